"""`mailbell template … --locale`: custom templates per locale, the one a message picks (emitted
to a real SMTP sink), previews in the owner's zone and locale with their attachments, refusals."""

from __future__ import annotations

import asyncio
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from core.catalog import sample
from core.locality import Locality
from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.worker import Worker
from core.rendering import default_template, render, templates_dir
from core.services.notifications import update_notification_settings
from tests.support.factories import TESTER, configure_tenant, emit_event

EVENT = "QUEUE_CALL_LOST"
QUEUE = sample(EVENT)["queue_name"]
FROM = "pbx@acme.org"


def _set_locality(session, ctx, tenant, **fields: str) -> None:
    changes = NotificationSettingsUpdate.parse(fields, system=False)
    update_notification_settings(
        session=session, box=ctx.box, tenant=tenant, changes=changes, actor=TESTER
    )


async def _emit_and_receive(session, ctx, tenant, srv) -> EmailMessage:
    """One QUEUE_CALL_LOST through emit, the worker and SMTP; the message the sink got."""
    before = len(srv.messages)
    emit_event(session, ctx.box, tenant, EVENT)
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()
    for _ in range(50):
        if len(srv.messages) > before:
            break
        await asyncio.sleep(0.05)
    message = BytesParser(policy=policy.default).parsebytes(srv.messages[-1].data)
    assert isinstance(message, EmailMessage)
    return message


def _set(cli, *args: str) -> None:
    result = cli("template", "set", EVENT, "--tenant", "acme", *args)
    assert result.code == 0, result.err


async def test_a_message_uses_its_locale_then_its_language_then_any_then_the_shipped_default(
    cli, ctx, session, acme, smtp_servers
) -> None:
    srv = smtp_servers()
    configure_tenant(session, ctx.box, acme, smtp=srv, server={"mail_from": FROM})
    _set(cli, "--locale", "fr-FR", "--subject", "FR-FR {{ queue_name }}")
    _set(cli, "--locale", "fr", "--subject", "FR {{ queue_name }}")
    _set(cli, "--subject", "ANY {{ queue_name }}")

    listed = json.loads(cli("template", "list", "--tenant", "acme", "--json").out)
    rows = [(r["locale"], r["custom"]) for r in listed if r["name"] == EVENT]
    assert rows == [(None, True), ("fr", True), ("fr_FR", True)]
    table = cli("template", "list", "--tenant", "acme").out
    assert "LOCALE" in table.splitlines()[0]
    assert any(line.split()[3:5] == ["fr_FR", "yes"] for line in table.splitlines()[1:])

    subjects = {}
    for locale in ("fr_FR", "fr_CA", "de_DE"):
        _set_locality(session, ctx, acme, locale=locale)
        subjects[locale] = (await _emit_and_receive(session, ctx, acme, srv))["Subject"]
    assert subjects == {"fr_FR": f"FR-FR {QUEUE}", "fr_CA": f"FR {QUEUE}", "de_DE": f"ANY {QUEUE}"}

    reset = cli("template", "reset", EVENT, "--tenant", "acme")
    assert reset.code == 0, reset.err
    german = (await _emit_and_receive(session, ctx, acme, srv))["Subject"]
    shipped = default_template(EVENT, "de_DE")
    expected = render(
        EVENT, sample(EVENT), template=shipped, server_from=FROM, locality=Locality("UTC", "de_DE")
    )
    assert german == expected.subject
    if (templates_dir() / "de" / f"{EVENT}.html").exists():  # helper h2's German defaults
        english = render(EVENT, sample(EVENT), template=default_template(EVENT), server_from=FROM)
        assert german != english.subject

    # The French ones stay; each locale goes on its own.
    assert cli("template", "reset", EVENT, "--tenant", "acme", "--locale", "fr_FR").code == 0
    shown = json.loads(cli("template", "show", EVENT, "--tenant", "acme", "--json").out)
    assert (shown["locale"], shown["locales"], shown["custom"]) == (None, ["fr"], None)


def test_show_and_list_with_a_locale(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    _set(cli, "--locale", "fr", "--subject", "FR {{ queue_name }}")
    shown = json.loads(
        cli("template", "show", EVENT, "--tenant", "acme", "--locale", "fr_CA", "--json").out
    )
    assert (shown["locale"], shown["locales"], shown["custom"]) == ("fr_CA", ["fr"], None)
    assert shown["default"] == default_template(EVENT, "fr_CA").as_dict()
    text = cli("template", "show", EVENT, "--tenant", "acme", "--locale", "fr_CA").out
    assert "in use: custom (fr)" in text and "subject: FR {{ queue_name }}" in text
    exact = json.loads(
        cli("template", "show", EVENT, "--tenant", "acme", "--locale", "fr", "--json").out
    )
    assert exact["custom"]["subject"] == "FR {{ queue_name }}" and exact["custom"]["locale"] == "fr"
    in_canada = json.loads(
        cli("template", "list", "--tenant", "acme", "--locale", "fr_CA", "--json").out
    )
    by_name = {row["name"]: row for row in in_canada}
    assert len(in_canada) == len(by_name)  # one row a name: the template a message there uses
    assert (by_name[EVENT]["locale"], by_name[EVENT]["custom"]) == ("fr", True)
    assert by_name["QUEUE_SLA"]["custom"] is False


def test_preview_renders_in_the_owners_locality_and_lists_the_attachments(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    result = cli("settings", "set", "--tenant", "acme", "locale=fr_FR", "timezone=Europe/Paris")
    assert result.code == 0, result.err
    _set(cli, "--locale", "fr_FR", "--subject", "FR-FR {{ queue_name }}")
    preview = cli("template", "preview", EVENT, "--tenant", "acme")
    assert preview.code == 0, preview.err
    assert f"Subject: FR-FR {QUEUE}" in preview.out
    assert "Locale: fr_FR    Time zone: Europe/Paris" in preview.out
    in_german = cli("template", "preview", EVENT, "--tenant", "acme", "--locale", "de_DE")
    assert "Locale: de_DE    Time zone: Europe/Paris" in in_german.out
    assert f"Subject: FR-FR {QUEUE}" not in in_german.out

    voicemail = cli("template", "preview", "VOICEMAIL_RECEIVED", "--tenant", "acme", "--json")
    assert voicemail.code == 0, voicemail.err
    shown = json.loads(voicemail.out)
    assert (shown["locale"], shown["timezone"]) == ("fr_FR", "Europe/Paris")
    recording = sample("VOICEMAIL_RECEIVED").get("recording")
    if recording:  # helper h3's sample carries one
        [attached] = shown["attachments"]
        assert attached["filename"] == recording["filename"]
        assert attached["content_type"] == recording["content_type"] and attached["size"] > 0
        text = cli("template", "preview", "VOICEMAIL_RECEIVED", "--tenant", "acme").out
        # After the body, one line a file: name, type and size.
        listed = text.rstrip("\n").rpartition("\n\n")[2].splitlines()
        assert len(listed) == 1
        assert listed[0].startswith(
            f"attachment: {attached['filename']} ({attached['content_type']}, "
        )
    else:
        assert shown["attachments"] == []

    invitation = cli("template", "preview", "CONFERENCE_INVITATION", "--tenant", "acme", "--json")
    assert invitation.code == 0, invitation.err
    files = json.loads(invitation.out)["attachments"]
    assert "invite.ics" in [file["filename"] for file in files]
    text = cli("template", "preview", "CONFERENCE_INVITATION", "--tenant", "acme").out
    assert "\nattachment: invite.ics (" in text


def test_a_locale_that_is_not_one_is_refused_naming_it(cli, db_dump) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    for command in (
        ("set", EVENT, "--tenant", "acme", "--subject", "x"),
        ("reset", EVENT, "--tenant", "acme"),
        ("show", EVENT, "--tenant", "acme"),
        ("preview", EVENT, "--tenant", "acme"),
        ("list", "--tenant", "acme"),
    ):
        result = cli("template", *command, "--locale", "xx_YY")
        assert result.code == 1, (command, result.out)
        assert result.err.startswith("error: locale:"), result.err
        assert "Traceback" not in result.err
    assert db_dump() == before
