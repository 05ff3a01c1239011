"""`GET /api/v1/templates[/{name}]`: mailbell's view of the templates (every event of the
catalogue, the owner's custom templates per locale), never another tenant's."""

from __future__ import annotations

from core.catalog import DIGEST, TEMPLATE_NAMES
from core.context import Context
from core.services.templates import create_custom_template, variables
from core.services.tenants import get_tenant
from tests.api.conftest import ADMIN, ApiClient
from tests.support.tokens import make_token

LOST = "QUEUE_CALL_LOST"


def _customise(ctx: Context) -> None:
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        for locale, subject in (("", "Lost {{ caller }}"), ("fr_FR", "Perdu {{ caller }}")):
            create_custom_template(
                session=session, tenant=acme, name=LOST, subject=subject, locale=locale,
                actor=ADMIN,
            )  # fmt: skip


async def test_the_list_names_every_template_and_the_owners_custom_locales(
    api: ApiClient, ctx: Context
) -> None:
    _customise(ctx)
    listed = await api.get("/api/v1/templates")
    assert listed.status == 200
    rows = {row["name"]: row for row in listed.body["templates"]}
    assert list(rows) == list(TEMPLATE_NAMES) and DIGEST in rows
    assert rows[LOST]["custom"] is True and rows[LOST]["locales"] == ["", "fr_FR"]
    assert rows[LOST]["scope"] == "tenant"
    assert rows["QUEUE_SLA"] == {**rows["QUEUE_SLA"], "custom": False, "locales": []}
    other = await api.get("/api/v1/templates", token="globex")
    assert not any(row["custom"] for row in other.body["templates"])


async def test_one_template_shows_variables_sample_default_and_each_custom_locale(
    api: ApiClient, ctx: Context
) -> None:
    _customise(ctx)
    shown = await api.get(f"/api/v1/templates/{LOST}?locale=fr_FR")
    assert shown.status == 200
    assert shown.body["variables"] == variables(LOST)
    assert set(shown.body["sample"]) >= {"caller", "queue_name"}
    assert set(shown.body["default"]) == {"from", "subject", "body"}
    assert shown.body["locale"] == "fr_FR"
    custom = {row["locale"]: row["subject"] for row in shown.body["custom"]}
    assert custom == {None: "Lost {{ caller }}", "fr_FR": "Perdu {{ caller }}"}
    other = await api.get(f"/api/v1/templates/{LOST}", token="globex")
    assert other.status == 200 and other.body["custom"] == []


async def test_bad_names_locales_and_scopes_are_refused(api: ApiClient, ctx: Context) -> None:
    unknown = await api.get("/api/v1/templates/NOPE")
    assert (unknown.status, unknown.body["field"]) == (404, "name")
    bad_locale = await api.get(f"/api/v1/templates/{LOST}?locale=not a locale")
    assert (bad_locale.status, bad_locale.body["field"]) == (400, "locale")
    with ctx.session() as session:
        emitter = make_token(session, get_tenant(session=session, slug="acme"), scopes=["events"])
    refused = await api.get("/api/v1/templates", token=emitter)
    assert (refused.status, refused.body["scope"]) == (403, "read")
