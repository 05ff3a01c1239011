"""Scoped, expiring tokens over HTTP: every route the app registers needs one scope
(`api.auth.required_scope`); a token without it gets 403 naming it and changes nothing; an
expired token gets 401 saying so; tokens made before scopes existed keep every right."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlmodel import Session

from api.auth import PUBLIC_PATHS, required_scope
from core.config import Settings
from core.context import Context, build_context
from core.db import make_engine, upgrade
from core.errors import ValidationError
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.services.tenants import get_tenant
from core.services.token_identity import token_digest
from core.vocabulary import TokenScope
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient, Tokens, served
from tests.support.factories import make_webhook
from tests.support.tokens import expire_token, make_token, token_row

EVENTS = "/api/events"
SETTINGS = "/api/tenant/notification"
EVENT_BODY = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
# A body each changing route would take from a token allowed to call it. Routes not listed
# (added since) get an empty object: the scope is checked before any body is read.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", EVENTS): EVENT_BODY,
    ("POST", SETTINGS): {"recipients": "ops@acme.example"},
    ("POST", f"{SETTINGS}/test_email"): {
        "recipient": "ops@acme.example",
        "subject": "s",
        "content": "c",
    },
    ("POST", "/api/custom_email_templates"): {
        "name": "QUEUE_CALL_LOST",
        "subject": "Lost call in {{ queue_name }}",
    },
    ("POST", "/api/custom_email_templates/{name}"): {"subject": "Lost: {{ queue_name }}"},
    ("POST", "/api/webhooks"): {"url": "http://127.0.0.1:9/new"},
}


def _acme(session: Session) -> Tenant:
    return get_tenant(session=session, slug="acme")


def api_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, pattern) of every route of `app` that needs a token."""
    found = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method == "*":
            continue
        path = resource.canonical
        if path.startswith("/api/") and path not in PUBLIC_PATHS:
            found.append((route.method, path))
    return found


def concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values.get(m[1], "1"), path)


@dataclass
class Walk:
    api: ApiClient
    routes: list[tuple[str, str]]
    values: dict[str, str]

    async def call(self, method: str, pattern: str, token: str) -> Any:
        body = BODIES.get((method, pattern), {}) if method not in ("GET", "HEAD") else None
        path = concrete(pattern, self.values)
        return await self.api.request(method, path, json_body=body, token=token)


@pytest.fixture
async def walk(api: ApiClient, ctx: Context) -> Walk:
    with ctx.session() as session:
        # a port nothing listens on: testing this hook fails at once, without the network
        hook = make_webhook(session, ctx.box, _acme(session), "http://127.0.0.1:9/kept")
    values = {"name": "QUEUE_CALL_LOST", "id": str(hook.id)}
    return Walk(api, api_routes(api.client.app), values)


def test_every_route_needs_the_scope_its_method_says() -> None:
    """The rule `required_scope` applies, on the routes of today and on any added later."""
    assert required_scope("GET", "/api/webhooks") is TokenScope.READ
    assert required_scope("HEAD", "/api/webhooks") is TokenScope.READ
    assert required_scope("POST", "/api/webhooks") is TokenScope.WRITE
    assert required_scope("DELETE", "/api/webhooks/{id}") is TokenScope.WRITE
    assert required_scope("PUT", "/api/mail_servers/{id}") is TokenScope.WRITE
    assert required_scope("POST", EVENTS) is TokenScope.EVENTS
    assert required_scope("GET", "/api/events/{id}") is TokenScope.READ
    for method in ("GET", "POST", "DELETE", "PATCH"):
        assert required_scope(method, "/api/tokens") is TokenScope.ADMIN
        assert required_scope(method, "/api/tokens/{id}") is TokenScope.ADMIN
        assert required_scope(method, "/api/tenants/{slug}") is TokenScope.ADMIN
    # a prefix, not a substring: the PortSIP settings live under /api/tenant/
    assert required_scope("GET", SETTINGS) is TokenScope.READ
    assert required_scope("POST", SETTINGS) is TokenScope.WRITE
    assert required_scope("GET", "/api/tenantsettings") is TokenScope.READ


async def test_an_events_token_ingests_and_is_refused_everywhere_else(
    walk: Walk, ctx: Context, db_dump: Callable[[], str]
) -> None:
    with ctx.session() as session:
        events_only = make_token(session, _acme(session), scopes=["events"])
    ingested = await walk.api.post(EVENTS, EVENT_BODY, token=events_only)
    assert ingested.status == 202, ingested.body
    assert ingested.body["deliveries"]

    before = db_dump()
    refused = 0
    for method, pattern in walk.routes:
        if (method, pattern) == ("POST", EVENTS):
            continue
        answer = await walk.call(method, pattern, events_only)
        needed = required_scope(method, pattern).value
        assert answer.status == 403, (method, pattern, answer.status, answer.body)
        if method != "HEAD":
            assert answer.body == {
                "error": f"this token lacks the scope '{needed}'",
                "scope": needed,
            }, (method, pattern)
        refused += 1
    assert refused >= 15  # every GET (and its HEAD) and every change of today's API
    assert db_dump() == before


async def test_the_refused_requests_pass_with_the_scopes_they_need(walk: Walk) -> None:
    """The same requests with the tenant's default token (read, write, events) are past the
    token check: what refused them above was the scope alone."""
    for method, pattern in walk.routes:
        if required_scope(method, pattern) is TokenScope.ADMIN:
            continue  # not the tenant's default token's: tests/api/test_v1_admin.py
        answer = await walk.call(method, pattern, "acme")
        assert answer.status not in (401, 403), (method, pattern, answer.status, answer.body)
        assert answer.status < 500, (method, pattern, answer.body)


async def test_a_read_token_reads_and_cannot_write_or_ingest(
    walk: Walk, ctx: Context, db_dump: Callable[[], str]
) -> None:
    with ctx.session() as session:
        reader = make_token(session, _acme(session), scopes=["read"])
    settings = await walk.api.get(SETTINGS, token=reader)
    assert settings.status == 200 and "recipients" in settings.body
    before = db_dump()
    for method, pattern in walk.routes:
        answer = await walk.call(method, pattern, reader)
        needed = required_scope(method, pattern).value
        if needed == "read":
            assert answer.status not in (401, 403), (method, pattern, answer.body)
            continue
        assert answer.status == 403, (method, pattern, answer.status)
        if method != "HEAD":
            assert answer.body["scope"] == needed and needed in answer.body["error"]
    assert db_dump() == before


async def test_write_does_not_imply_events_nor_read(api: ApiClient, ctx: Context) -> None:
    with ctx.session() as session:
        writer = make_token(session, _acme(session), scopes=["write"])
    saved = await api.post(SETTINGS, {"recipients": "ops@acme.example"}, token=writer)
    assert saved.status == 200, saved.body
    assert (await api.get(SETTINGS, token=writer)).body["scope"] == "read"
    ingest = await api.post(EVENTS, EVENT_BODY, token=writer)
    assert (ingest.status, ingest.body["scope"]) == (403, "events")
    assert (await api.get(SETTINGS)).body["recipients"] == "ops@acme.example"


async def test_a_system_token_keeps_its_scopes_on_any_tenant(api: ApiClient, ctx: Context) -> None:
    with ctx.session() as session:
        reader = make_token(session, None, scopes=["read"])
    assert (await api.get(f"{SETTINGS}?tenant=acme", token=reader)).status == 200
    answer = await api.post(
        f"{SETTINGS}?tenant=acme", {"recipients": "a@acme.example"}, token=reader
    )
    assert (answer.status, answer.body["scope"]) == (403, "write")


async def test_an_expired_token_is_401_and_says_so(api: ApiClient, ctx: Context) -> None:
    with ctx.session() as session:
        later = make_token(session, _acme(session), expires_at=utcnow() + timedelta(days=90))
    assert (await api.get(SETTINGS, token=later)).status == 200
    with ctx.session() as session:
        at = expire_token(session, later)
        used = token_row(session, later).last_used_at
    for method, path, body in (
        ("GET", SETTINGS, None),
        ("POST", SETTINGS, {"recipients": "x@acme.example"}),
        ("POST", EVENTS, EVENT_BODY),
    ):
        answer = await api.request(method, path, json_body=body, token=later)
        assert answer.status == 401, (method, path, answer.body)
        assert "expired" in answer.body["error"]
        assert at.isoformat(timespec="seconds") in answer.body["error"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    with ctx.session() as session:
        assert token_row(session, later).last_used_at == used  # a refused token is not "used"
    assert (await api.get(SETTINGS)).status == 200  # the tenant's other token still works


async def test_a_token_cannot_be_made_already_expired(ctx: Context) -> None:
    with ctx.session() as session:
        with pytest.raises(ValidationError) as refused:
            make_token(session, None, expires_at=utcnow().replace(year=2020))
        assert refused.value.field == "expires_at" and "passed" in refused.value.message
        with pytest.raises(ValidationError) as unknown:
            make_token(session, None, scopes=["read", "everything"])
        assert unknown.value.field == "scopes" and "'everything'" in unknown.value.message


# -- tokens from before migration 0020 ----------------------------------------------------------

OLD_TOKEN = "mb_madeBeforeScopes-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def settings_from_0019(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A database at revision 0019 holding tenant acme and a token of it, as an install made
    before scopes would have; the context built on it migrates it to head."""
    from core.private_files import make_private_dir

    home = tmp_path / "old-home"
    make_private_dir(home)
    if request.config.getoption("--db") == "postgres":
        url = request.getfixturevalue("postgres_server").create_database(migrated=False)
    else:
        url = f"sqlite:///{home / 'mailbell.db'}"
    engine = make_engine(url)
    upgrade(engine, "0019")
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenant (slug, name, created_at) VALUES ('acme', 'Acme', :now)"),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO api_token (name, tenant_id, token_hash, prefix, created_at)"
                " SELECT 'old', id, :hash, :prefix, :now FROM tenant WHERE slug = 'acme'"
            ),
            {"hash": token_digest(OLD_TOKEN), "prefix": OLD_TOKEN[:11], "now": now},
        )
    engine.dispose()
    return Settings(home=home, database_url=None if url.startswith("sqlite") else url)


async def test_a_token_from_before_scopes_keeps_every_right(settings_from_0019: Settings) -> None:
    context = build_context(settings_from_0019)
    try:
        with context.session() as session:
            row = token_row(session, OLD_TOKEN)
            assert row.scopes == ["read", "write", "events", "admin"]
            assert row.expires_at is None
        async with served(context, Tokens(acme=OLD_TOKEN, globex="", system="")) as api:
            assert (await api.get(SETTINGS, token=OLD_TOKEN)).status == 200
            saved = await api.post(SETTINGS, {"recipients": "ops@acme.example"}, token=OLD_TOKEN)
            assert saved.status == 200, saved.body
            ingested = await api.post(EVENTS, EVENT_BODY, token=OLD_TOKEN)
            assert ingested.status == 202, ingested.body
            for method, pattern in api_routes(api.client.app):
                # the tenants are managed by system tokens only: a tenant token never could
                if method in ("GET", "HEAD") and not pattern.startswith("/api/v1/tenants"):
                    answer = await api.request(method, concrete(pattern, {}), token=OLD_TOKEN)
                    assert answer.status not in (401, 403), (pattern, answer.body)
    finally:
        context.close()
