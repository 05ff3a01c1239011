"""`GET /api/health`: the health watch's rows (`mailbell health --json`'s six fields), a tenant
token's limited to its own subjects, a system token's to everything (or to `?tenant=`); no
token is 401, another tenant named is 403; the document describes the rows as served."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlmodel import Session

from core.context import Context
from core.services.tenants import get_tenant
from core.vocabulary import HealthKind, HealthState
from tests.api.conftest import ApiClient
from tests.support.factories import make_mail_server
from tests.support.health import mail_server_key, put_certificate, put_state

WIRE = {"kind", "tenant", "subject", "state", "reason", "since"}
ACME_HOST, GLOBEX_HOST = "relay.acme.example", "mx.globex.example"


@pytest.fixture
def watched(api: ApiClient, session: Session, ctx: Context) -> dict[str, Any]:
    """acme: a server whose certificate runs out in 5 days, an account; globex: a server down;
    the system: its database. (The `api` fixture made the tenants and their tokens.)"""
    acme, globex = (
        get_tenant(session=session, slug="acme"),
        get_tenant(session=session, slug="globex"),
    )
    relay = make_mail_server(session, ctx.box, acme, name="Acme relay", host=ACME_HOST)
    down = make_mail_server(session, ctx.box, globex, name="Globex MX", host=GLOBEX_HOST)
    put_certificate(session, relay.id, acme.id, relay.name, 5)
    put_state(session, "email_account:1", HealthKind.EMAIL_ACCOUNT, acme.id, "help@acme.example",
              HealthState.OK)  # fmt: skip
    put_state(session, mail_server_key(down.id), HealthKind.MAIL_SERVER, globex.id, down.name,
              HealthState.CRITICAL, reason=f"connect: {GLOBEX_HOST}:587 refused")  # fmt: skip
    put_state(session, "service:database", HealthKind.SERVICE, None, "database", HealthState.OK)
    return {"acme": acme.id, "globex": globex.id}


def _seen(body: list[dict[str, Any]]) -> list[tuple[str | None, str, str]]:
    return [(row["tenant"], row["subject"], row["state"]) for row in body]


async def test_a_tenant_token_sees_its_own_subjects_only(api: ApiClient, watched) -> None:
    acme = await api.get("/api/health", token="acme")
    assert acme.status == 200
    assert all(set(row) == WIRE for row in acme.body)
    assert _seen(acme.body) == [
        ("acme", "help@acme.example", "ok"),
        ("acme", "Acme relay", "warning"),
    ]
    relay = acme.body[1]
    assert relay["kind"] == "mail_server" and relay["reason"] == "certificate expires in 5 days"
    for other in ("globex", "Globex", GLOBEX_HOST, "database"):
        assert other not in acme.text, other

    globex = await api.get("/api/health", token="globex")
    assert _seen(globex.body) == [("globex", "Globex MX", "critical")]
    assert "acme" not in globex.text and ACME_HOST not in globex.text


async def test_a_system_token_sees_everything_or_the_tenant_it_names(
    api: ApiClient, watched
) -> None:
    everything = await api.get("/api/health", token="system")
    assert everything.status == 200
    assert _seen(everything.body) == [
        (None, "database", "ok"),
        ("acme", "help@acme.example", "ok"),
        ("acme", "Acme relay", "warning"),
        ("globex", "Globex MX", "critical"),
    ]
    assert everything.body[0]["kind"] == "service"
    one = await api.get("/api/health?tenant=globex", token="system")
    assert _seen(one.body) == [("globex", "Globex MX", "critical")]


async def test_no_token_is_401_and_another_tenant_is_403(api: ApiClient, watched) -> None:
    missing = await api.get("/api/health", token=None)
    assert missing.status == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    bad = await api.get("/api/health", token="not-a-token")
    assert bad.status == 401
    other = await api.get("/api/health?tenant=globex", token="acme")
    assert other.status == 403 and other.body["field"] == "tenant"
    assert "Globex MX" not in other.text
    unknown = await api.get("/api/health?tenant=nope", token="system")
    assert unknown.status == 404 and unknown.body["field"] == "tenant"


async def test_nothing_watched_yet_is_an_empty_list(api: ApiClient) -> None:
    answer = await api.get("/api/health", token="acme")
    assert (answer.status, answer.body) == (200, [])


async def test_the_document_describes_the_rows(api: ApiClient, watched) -> None:
    document = yaml.safe_load((await api.get("/api/openapi.yaml", token=None)).text)
    schema = document["components"]["schemas"]["HealthSubject"]
    assert set(schema["properties"]) == set(schema["required"]) == WIRE
    assert set(schema["properties"]["kind"]["enum"]) == {kind.value for kind in HealthKind}
    assert set(schema["properties"]["state"]["enum"]) == {state.value for state in HealthState}
    listed = document["paths"]["/api/health"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["items"]["$ref"].endswith(
        "/HealthSubject"
    )
    rows = (await api.get("/api/health", token="system")).body
    assert {row["kind"] for row in rows} <= set(schema["properties"]["kind"]["enum"])
    assert all(row["tenant"] is None or isinstance(row["tenant"], str) for row in rows)
