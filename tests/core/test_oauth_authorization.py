"""The one OAuth authorization use case: consent URL, then the redirect (or the code) exchanged
at a local token endpoint, tokens stored encrypted and audited by the core itself."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from core.errors import NotFound, ValidationError
from core.models.audit import AuditEntry
from core.models.mail import MailServer
from core.services.audit import local_actor
from core.services.oauth_authorization import complete_authorization, start_authorization
from tests.support import fixtures
from tests.support.factories import make_mail_server, make_tenant

token_endpoint = fixtures.token_endpoint
octx = fixtures.octx

GMAIL = {
    "provider": "GMAIL",
    "username": "user@example.com",
    "auth": "XOAUTH2",
    "oauth_client_id": "client-id",
    "oauth_client_secret": "client-secret",
    "host": "smtp.gmail.com",
}


@pytest.fixture
def servers(octx) -> dict[str, int]:
    """One GMAIL server each for tenants acme and globex."""
    ids = {}
    with octx.session() as session:
        for slug in ("acme", "globex"):
            tenant = make_tenant(session, slug=slug)
            ids[slug] = make_mail_server(session, octx.box, tenant, **GMAIL).id
    return ids


def _start(octx, slug: str, server_id: int):
    from core.services.tenants import get_tenant

    with octx.session() as session:
        return start_authorization(
            session=session,
            settings=octx.settings,
            box=octx.box,
            tenant=get_tenant(session=session, slug=slug),
            server_id=server_id,
        )


def _audit(octx) -> list[AuditEntry]:
    with octx.session() as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.action.startswith("mail_server.oauth"))
        )
        return list(rows)


async def test_redirect_url_completes_stores_and_audits(octx, servers, token_endpoint) -> None:
    started = _start(octx, "acme", servers["acme"])
    query = parse_qs(urlsplit(started.url).query)
    assert query["state"] == [started.state] and query["login_hint"] == ["user@example.com"]
    assert "client-secret" not in started.url and "client-secret" not in repr(started)

    done = await complete_authorization(
        ctx=octx,
        start=started,
        actor=local_actor("tui"),
        redirect_url=token_endpoint.authorize(started.url),
    )
    assert (done.server_id, done.tenant, done.auth) == (servers["acme"], "acme", "XOAUTH2")
    with octx.session() as session:
        row = session.get(MailServer, servers["acme"])
        assert row.oauth_refresh_token_enc and octx.box.decrypt(row.oauth_refresh_token_enc)
    [entry] = _audit(octx)
    assert (entry.source, entry.tenant, entry.target, entry.fields) == (
        "tui",
        "acme",
        f"mail_server:{servers['acme']}",
        ["oauth_tokens"],
    )


async def test_a_bare_code_completes_too(octx, servers, token_endpoint) -> None:
    started = _start(octx, "acme", servers["acme"])
    redirect = token_endpoint.authorize(started.url)
    [code] = parse_qs(urlsplit(redirect).query)["code"]
    done = await complete_authorization(
        ctx=octx, start=started, actor=local_actor("cli"), code=code
    )
    assert done.tenant == "acme"
    assert [e.source for e in _audit(octx)] == ["cli"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (
            {"redirect_url": "http://localhost:8765/oauth/callback?code=x&state=forged"},
            "redirect_url",
        ),
        ({"redirect_url": ""}, "redirect_url"),
        ({"code": "  "}, "code"),
        ({}, "code"),
    ],
)
async def test_refusals_store_and_audit_nothing(octx, servers, given, field) -> None:
    started = _start(octx, "acme", servers["acme"])
    with pytest.raises(ValidationError) as caught:
        await complete_authorization(ctx=octx, start=started, actor=local_actor("cli"), **given)
    assert caught.value.field == field
    with octx.session() as session:
        assert session.get(MailServer, servers["acme"]).oauth_refresh_token_enc is None
    assert _audit(octx) == []


def test_another_tenants_server_is_not_found(octx, servers) -> None:
    with pytest.raises(NotFound):
        _start(octx, "acme", servers["globex"])
