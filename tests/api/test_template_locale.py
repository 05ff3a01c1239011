"""`?locale=` on the custom template endpoints: one template per locale over HTTP, picked by the
tenant's locale when an event is emitted, and 400 naming `locale` for what is not one."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.parser import BytesParser

import pytest

from core.catalog import sample
from core.locality import Locality
from core.pipeline.worker import Worker
from core.rendering import default_template, render
from tests.api.conftest import ApiClient, smtp_settings

CUSTOM = "/api/custom_email_templates"
EVENT = "QUEUE_CALL_LOST"
PATH = f"{CUSTOM}/{EVENT}"
QUEUE = sample(EVENT)["queue_name"]


async def _create(api: ApiClient, subject: str, locale: str | None = None) -> dict:
    query = f"?locale={locale}" if locale is not None else ""
    answer = await api.post(f"{CUSTOM}{query}", {"name": EVENT, "subject": subject})
    assert answer.status == 200, answer.body
    return answer.body


async def test_one_template_per_locale_read_updated_and_deleted_on_its_own(api: ApiClient) -> None:
    created = await _create(api, "FR-FR {{ queue_name }}", "fr-FR")
    assert created["locale"] == "fr_FR"
    await _create(api, "FR {{ queue_name }}", "fr")
    await _create(api, "ANY {{ queue_name }}")

    # The list shows a PortSIP client one template per name: the one for every locale.
    listed = (await api.get(CUSTOM)).body
    assert [(t["name"], t["locale"]) for t in listed] == [(EVENT, None)]
    assert [t["locale"] for t in (await api.get(f"{CUSTOM}?locale=fr")).body] == ["fr"]
    assert [t["locale"] for t in (await api.get(f"{CUSTOM}?locale=fr-FR")).body] == ["fr_FR"]
    assert [t["locale"] for t in (await api.get(f"{CUSTOM}?locale=")).body] == [None]

    # Without ?locale= a PortSIP client sees and changes the template for every locale only.
    assert (await api.get(PATH)).body["subject"] == "ANY {{ queue_name }}"
    assert (await api.get(f"{PATH}?locale=fr_FR")).body["subject"] == "FR-FR {{ queue_name }}"
    updated = await api.post(f"{PATH}?locale=fr", {"subject": "Français {{ queue_name }}"})
    assert updated.status == 200, updated.body
    assert (updated.body["locale"], updated.body["subject"]) == ("fr", "Français {{ queue_name }}")
    assert (await api.get(PATH)).body["subject"] == "ANY {{ queue_name }}"

    again = await api.post(f"{CUSTOM}?locale=fr", {"name": EVENT, "subject": "x"})
    assert again.status == 409 and "for fr" in again.body["error"]

    deleted = await api.delete(f"{PATH}?locale=fr_FR")
    assert deleted.status == 200 and deleted.body == {
        "name": EVENT,
        "deleted": True,
        "default": True,
    }
    missing = await api.get(f"{PATH}?locale=fr_FR")
    assert missing.status == 404 and "for fr_FR" in missing.body["error"]
    assert (await api.get(f"{CUSTOM}?locale=fr_FR")).body == []
    assert [t["locale"] for t in (await api.get(f"{CUSTOM}?locale=fr")).body] == ["fr"]


async def test_a_new_localized_template_starts_from_the_default_in_its_language(
    api: ApiClient,
) -> None:
    created = await api.post(f"{CUSTOM}?locale=de_DE", {"name": EVENT})
    assert created.status == 200, created.body
    german = default_template(EVENT, "de_DE")
    assert (created.body["subject"], created.body["body"]) == (german.subject, german.body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{PATH}?locale=xx_YY", None),
        ("POST", f"{PATH}?locale=xx_YY", {"subject": "x"}),
        ("DELETE", f"{PATH}?locale=xx_YY", None),
        ("POST", f"{CUSTOM}?locale=xx_YY", {"name": EVENT, "subject": "x"}),
        ("POST", f"{CUSTOM}?locale=not a locale", {"name": EVENT, "subject": "x"}),
        ("GET", f"{CUSTOM}?locale=xx_YY", None),
    ],
)
async def test_a_locale_that_is_not_one_is_400_naming_it(
    api: ApiClient, db_dump: Callable[[], str], method: str, path: str, body: object
) -> None:
    before = db_dump()
    answer = await api.request(method, path, json_body=body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == "locale"
    assert db_dump() == before


async def test_the_tenants_locale_picks_the_template_of_an_emitted_event(
    api: ApiClient, ctx, smtp_server
) -> None:
    settings = smtp_settings(smtp_server, notify_queue_call_lost=True, recipients="ops@acme.org")
    assert (await api.post("/api/tenant/notification", settings)).status == 200
    await _create(api, "FR-FR {{ queue_name }}", "fr_FR")
    await _create(api, "FR {{ queue_name }}", "fr")
    await _create(api, "ANY {{ queue_name }}")

    async def subject_in(locale: str) -> str:
        changed = await api.post("/api/tenant/notification", {"locale": locale})
        assert changed.status == 200, changed.body
        emitted = await api.post("/api/events", {"event": EVENT, "data": sample(EVENT)})
        assert emitted.status == 202, emitted.body
        worker = Worker(ctx)
        try:
            await worker.run_once()
        finally:
            await worker.close()
        received = BytesParser(policy=policy.default).parsebytes(smtp_server.messages[-1].data)
        return str(received["Subject"])

    assert await subject_in("fr_FR") == f"FR-FR {QUEUE}"
    assert await subject_in("fr_CA") == f"FR {QUEUE}"
    assert await subject_in("de_DE") == f"ANY {QUEUE}"
    assert (await api.delete(PATH)).status == 200
    shipped = render(
        EVENT,
        sample(EVENT),
        template=default_template(EVENT, "de_DE"),
        server_from="x@example.org",
        locality=Locality("UTC", "de_DE"),
    )
    assert await subject_in("de_DE") == shipped.subject


async def test_preview_renders_in_the_owners_locality_or_the_given_locale(api: ApiClient) -> None:
    changed = await api.post(
        "/api/tenant/notification", {"locale": "fr_FR", "timezone": "Europe/Paris"}
    )
    assert changed.status == 200, changed.body
    await _create(api, "FR-FR {{ queue_name }}", "fr_FR")
    answer = await api.get(f"/api/email_templates/{EVENT.lower()}/preview")
    assert answer.status == 200, answer.body
    shown = answer.body
    assert (shown["name"], shown["custom"], shown["template_locale"]) == (EVENT, True, "fr_FR")
    assert (shown["locale"], shown["timezone"]) == ("fr_FR", "Europe/Paris")
    assert shown["subject"] == f"FR-FR {QUEUE}" and shown["from"] is None
    assert shown["attachments"] == []

    german = (await api.get(f"/api/email_templates/{EVENT}/preview?locale=de_DE")).body
    assert (german["custom"], german["template_locale"], german["locale"]) == (False, None, "de_DE")
    shipped = render(
        EVENT,
        sample(EVENT),
        template=default_template(EVENT, "de_DE"),
        server_from="x@example.org",
        locality=Locality("Europe/Paris", "de_DE"),
    )
    assert german["subject"] == shipped.subject

    invitation = await api.get("/api/email_templates/CONFERENCE_INVITATION/preview")
    assert invitation.status == 200, invitation.body
    assert "invite.ics" in [file["filename"] for file in invitation.body["attachments"]]
    assert all(file["size"] > 0 for file in invitation.body["attachments"])

    refused = await api.get(f"/api/email_templates/{EVENT}/preview?locale=xx_YY")
    assert refused.status == 400 and refused.body["field"] == "locale"
    unknown = await api.get("/api/email_templates/NOPE/preview")
    assert unknown.status == 404 and unknown.body["field"] == "name"
