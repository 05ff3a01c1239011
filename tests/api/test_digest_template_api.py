"""The PortSIP template endpoints know the reference's 14 names only: DIGEST (mailbell's own,
customised with `mailbell template set DIGEST`) is neither listed nor reachable there, and no
event of that name can be posted."""

from __future__ import annotations

from collections.abc import Callable

from core.catalog import DIGEST, PORTSIP_NAMES
from core.context import Context
from core.services.templates import create_custom_template
from core.services.tenants import get_tenant
from tests.api.conftest import ADMIN, ApiClient


async def test_digest_stays_out_of_the_portsip_endpoints(
    api: ApiClient, ctx: Context, db_dump: Callable[[], str]
) -> None:
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        create_custom_template(
            session=session, tenant=acme, name=DIGEST, subject="{{ headline }}", actor=ADMIN
        )
    defaults = await api.get("/api/default_email_templates")
    assert [t["name"] for t in defaults.body] == list(PORTSIP_NAMES)
    assert len(defaults.body) == 14
    custom = await api.get("/api/custom_email_templates")
    assert custom.status == 200 and custom.body == []
    before = db_dump()
    for method, path, body in (
        ("GET", "/api/default_email_templates/DIGEST", None),
        ("GET", "/api/custom_email_templates/DIGEST", None),
        ("POST", "/api/custom_email_templates", {"name": "DIGEST", "subject": "x"}),
        ("DELETE", "/api/custom_email_templates/digest", None),
    ):
        answer = await api.request(method, path, json_body=body)
        assert answer.status == 404, (method, path, answer.body)
        assert answer.body["field"] == "name" and "not an event" in answer.body["error"]
    emitted = await api.post("/api/events", {"event": "DIGEST", "data": {}})
    assert emitted.status == 400 and emitted.body["field"] == "event"
    assert "DIGEST is the template of mailbell's digests" in emitted.body["error"]
    assert db_dump() == before
