"""A revoked OAuth grant fails deliveries at once (no 24 h of retries), shows as revoked in
every read, stops asking the token endpoint, and a new authorization clears it.

Real parts: the local token endpoint answering `invalid_grant`, an aiosmtpd server taking
XOAUTH2 with the tokens it issued, emit, the worker, the CLI."""

from __future__ import annotations

import json

import pytest

from core.errors import AuthorizationRevoked, RetryableError
from core.mail.oauth import OAuthClient, OAuthTokenProvider
from core.models.mail import MailServer, MailServerRead, MailServerUpdate
from core.pipeline.worker import Worker
from core.services.mail_servers import get_mail_server, update_mail_server
from core.services.mail_tests import test_mail_server
from core.services.oauth_authorization import complete_authorization, start_authorization
from tests.support.factories import configure_tenant, emit_events, make_mail_server, make_tenant
from tests.support.server_login import deliveries, slack_status
from tests.support.token_endpoint import TokenEndpoint
from tui.data import servers as servers_page
from tui.data.wording import page_ref

GOOGLE_REVOKED = ("invalid_grant", "Token has been expired or revoked.")


def google_client(endpoint: TokenEndpoint) -> OAuthClient:
    return OAuthClient(
        provider="GMAIL",
        client_id="client-id",
        client_secret="client-secret",
        directory_id=None,
        token_url=endpoint.token_url,
        auth_url=endpoint.auth_url,
        redirect_uri="http://localhost:8765/oauth/callback",
    )


@pytest.mark.parametrize(
    ("error", "description"),
    [
        GOOGLE_REVOKED,
        ("unauthorized_client", "Unauthorized"),
        ("invalid_grant", "AADSTS50173: The provided grant has expired due to it being revoked."),
        ("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity."),
        ("invalid_request", "AADSTS65001: The user or administrator has not consented."),
        ("interaction_required", "AADSTS50076: Due to a configuration change you must use MFA."),
    ],
)
async def test_revocation_answers_are_permanent_and_asked_once(
    token_endpoint: TokenEndpoint, error: str, description: str
) -> None:
    token_endpoint.add_refresh_token("rt-1")
    token_endpoint.fail_with(400, error, description)
    provider = OAuthTokenProvider(google_client(token_endpoint), refresh_token="rt-1")
    with pytest.raises(AuthorizationRevoked) as caught:
        await provider()
    assert caught.value.step == "oauth" and "authorization revoked" in caught.value.message
    assert "mailbell oauth authorize --server" in caught.value.message
    assert "rt-1" not in caught.value.message and "client-secret" not in caught.value.message
    with pytest.raises(AuthorizationRevoked):  # the endpoint now works, but is not asked
        await provider()
    assert len(token_endpoint.requests) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, "temporarily_unavailable"), (500, "server_error"), (400, "invalid_scope")],
)
async def test_other_refusals_stay_retryable(
    token_endpoint: TokenEndpoint, status: int, error: str
) -> None:
    token_endpoint.add_refresh_token("rt-1")
    token_endpoint.fail_with(status, error, "try later")
    provider = OAuthTokenProvider(google_client(token_endpoint), refresh_token="rt-1")
    with pytest.raises(RetryableError) as caught:
        await provider()
    assert not isinstance(caught.value, AuthorizationRevoked)
    await provider()  # and the next call asks again, and works
    assert len(token_endpoint.requests) == 2


async def _drain(ctx) -> None:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


async def test_revoked_grant_fails_deliveries_at_once_until_authorized_again(
    oauth_env: TokenEndpoint, ctx, session, actor, smtp_servers, cli
) -> None:
    endpoint = oauth_env
    endpoint.expected_user = "user@example.com"
    endpoint.add_refresh_token("rt-1")
    srv = smtp_servers(mode="tls", xoauth2=endpoint.verify)
    tenant = make_tenant(session, actor=actor)
    server = make_mail_server(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        actor=actor,
        name="Gmail",
        provider="GMAIL",
        auth="XOAUTH2",
        password=None,
        oauth_client_id="client-id",
        oauth_client_secret="client-secret",
    )
    configure_tenant(session, ctx.box, tenant, recipients=["ops@acme.org"], actor=actor)
    with ctx.session() as other:
        row = other.get(MailServer, server.id)
        row.oauth_refresh_token_enc = ctx.box.encrypt("rt-1")
        other.add(row)
        other.commit()
    ctx.settings.retry_base_s = 0.01  # a retry, were there one, would come due within the drain

    # The provider answers invalid_grant: one attempt, failed, with the reason and the command.
    endpoint.fail_with(400, *GOOGLE_REVOKED)
    [first] = emit_events(session, ctx.box, tenant, 1)
    await _drain(ctx)
    [row] = deliveries(ctx)
    command = f"mailbell oauth authorize --server {server.id}"
    assert (row.id, row.status, row.attempts) == (first, "failed", 1)
    assert "authorization revoked" in row.last_error and command in row.last_error
    assert "invalid_grant" in row.last_error and "rt-1" not in row.last_error
    assert len(endpoint.requests) == 1 and srv.messages == []

    # Marked on the server (committed although the delivery failed), in every read.
    with ctx.session() as fresh:
        read = get_mail_server(session=fresh, tenant=tenant, server_id=server.id)
        stored = fresh.get(MailServer, server.id)
    assert stored.auth_revoked_at is not None
    assert read.authorization == "revoked"
    assert read.auth_revoked_reason == "invalid_grant: Token has been expired or revoked."
    assert read.auth_problem == f"authorization revoked — re-authorize: {command}"
    listed = cli("server", "list", "--tenant", "acme")
    assert listed.code == 0 and "REVOKED" in listed.out
    assert f"server {server.id} (Gmail): authorization revoked — re-authorize: {command}" in (
        listed.out
    )
    [as_json] = json.loads(cli("server", "list", "--tenant", "acme", "--json").out)
    assert as_json["authorization"] == "revoked" and as_json["auth_revoked_at"]
    assert "client-secret" not in listed.out + json.dumps(as_json)
    shown = cli("server", "show", str(server.id), "--tenant", "acme")
    assert f"problem: authorization revoked — re-authorize: {command}" in shown.out
    # The TUI's servers page names its own way there instead of the CLI command.
    [page_row] = servers_page.load(ctx, "acme").servers
    in_the_tui = f"{page_ref('servers')} → e → Authorize"
    assert page_row["problem"] == f"authorization revoked — re-authorize: {in_the_tui}"
    assert f"authorization revoked* — re-authorize: `{command}`" in slack_status(ctx, tenant)

    # The next delivery (a new worker: it knows only the row) fails without the token endpoint
    # and without a connection to the mail server.
    connections = srv.connections
    [second] = emit_events(session, ctx.box, tenant, 1)
    await _drain(ctx)
    row = deliveries(ctx)[-1]
    assert (row.id, row.status, row.attempts) == (second, "failed", 1)
    assert command in row.last_error
    assert len(endpoint.requests) == 1 and srv.connections == connections

    # Authorizing again (the consent, the pasted redirect) clears the mark; mail flows.
    with ctx.session() as fresh:
        started = start_authorization(
            session=fresh, settings=ctx.settings, box=ctx.box, tenant=tenant, server_id=server.id
        )
    await complete_authorization(
        ctx=ctx, start=started, actor=actor, redirect_url=endpoint.authorize(started.url)
    )
    with ctx.session() as fresh:
        read = get_mail_server(session=fresh, tenant=tenant, server_id=server.id)
    assert read.authorization == "authorized" and read.auth_revoked_at is None
    assert read.auth_problem is None
    assert "REVOKED" not in cli("server", "list", "--tenant", "acme").out
    [third] = emit_events(session, ctx.box, tenant, 1)
    await _drain(ctx)
    row = deliveries(ctx)[-1]
    assert (row.id, row.status) == (third, "sent")
    assert len(srv.messages) == 1 and srv.messages[0].auth_user == "user@example.com"


def test_a_new_oauth_identity_clears_the_mark(ctx, session, actor) -> None:
    tenant = make_tenant(session, actor=actor)
    server = make_mail_server(
        session,
        ctx.box,
        tenant,
        actor=actor,
        provider="GMAIL",
        auth="XOAUTH2",
        username="user@example.com",
        oauth_client_id="client-id",
        oauth_client_secret="client-secret",
    )
    with ctx.session() as other:
        row = other.get(MailServer, server.id)
        row.oauth_refresh_token_enc = ctx.box.encrypt("rt-1")
        row.auth_revoked_at = row.created_at
        row.auth_revoked_reason = "authorization revoked (invalid_grant)"
        other.add(row)
        other.commit()
        assert MailServerRead.of(row).authorization == "revoked"
    # Another field leaves it alone; a new client secret is a new identity: the mark goes
    # (with the old tokens: the server now waits for its first authorization).
    update_mail_server(
        session=session,
        box=ctx.box,
        tenant=tenant,
        server_id=server.id,
        changes=MailServerUpdate.from_fields({"timeout": 20}),
        actor=actor,
    )
    assert get_mail_server(session=session, tenant=tenant, server_id=server.id).authorization == (
        "revoked"
    )
    read = update_mail_server(
        session=session,
        box=ctx.box,
        tenant=tenant,
        server_id=server.id,
        changes=MailServerUpdate.from_fields({"oauth_client_secret": "new-secret"}),
        actor=actor,
    )
    assert read.authorization == "not_authorized" and read.auth_revoked_reason is None


async def test_app_only_consent_restored_at_the_provider_the_admin_test_clears_it(
    oauth_env: TokenEndpoint, ctx, session, actor, smtp_servers
) -> None:
    """Microsoft 365 app-only (client credentials): consent is granted again in the provider's
    portal, not through mailbell; the admin's explicit test asks again and clears the mark."""
    endpoint = oauth_env
    srv = smtp_servers(mode="tls", xoauth2=endpoint.verify)
    tenant = make_tenant(session, actor=actor)
    server = make_mail_server(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        actor=actor,
        provider="MS365",
        auth="XOAUTH2",
        password=None,
        oauth_client_id="client-id",
        oauth_client_secret="client-secret",
        oauth_directory_id="contoso.onmicrosoft.com",
    )
    configure_tenant(session, ctx.box, tenant, recipients=["ops@acme.org"], actor=actor)
    assert server.authorization == "authorized"
    endpoint.fail_with(
        400, "unauthorized_client", "AADSTS65001: The user or administrator has not consented."
    )
    [first] = emit_events(session, ctx.box, tenant, 1)
    await _drain(ctx)
    assert [(r.id, r.status, r.attempts) for r in deliveries(ctx)] == [(first, "failed", 1)]
    with ctx.session() as fresh:
        assert get_mail_server(session=fresh, tenant=tenant, server_id=server.id).authorization == (
            "revoked"
        )

    report = await test_mail_server(ctx=ctx, tenant=tenant, server_id=server.id)
    assert report.ok and len(endpoint.requests) == 2
    with ctx.session() as fresh:
        read = get_mail_server(session=fresh, tenant=tenant, server_id=server.id)
    assert read.authorization == "authorized" and read.auth_revoked_at is None
    [second] = emit_events(session, ctx.box, tenant, 1)
    await _drain(ctx)
    assert (deliveries(ctx)[-1].id, deliveries(ctx)[-1].status) == (second, "sent")
    assert len(srv.messages) == 1
