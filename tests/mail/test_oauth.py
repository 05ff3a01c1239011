"""XOAUTH2: tokens from a local token endpoint, caching, refresh, rotation, the authorize helper."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import select

from core.config import Settings
from core.context import build_context
from core.errors import PermanentError, RetryableError, ValidationError
from core.mail.oauth import (
    MICROSOFT_APP_SCOPE,
    OAuthClient,
    OAuthTokenProvider,
    provider_for_server,
    token_provider_for,
)
from core.mail.oauth_authorize import build_authorization_request, exchange_code, parse_redirect
from core.mail.oauth_server import store_tokens
from core.mail.smtp import SmtpPool
from core.models.audit import AuditEntry
from core.models.mail import MailServer, MailServerCreate
from core.services.mail_servers import create_mail_server
from tests.support import fixtures
from tests.support.token_endpoint import TokenEndpoint

smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs
token_endpoint = fixtures.token_endpoint
octx = fixtures.octx

ROOT = Path(__file__).resolve().parents[2]
# `mailbell` with this module's commands mounted (register() is a no-op once cli.py mounts them)
MAILBELL = (
    "import sys; from mailbell import cli; from mailbell.commands import mailtest, server; "
    "mailtest.register(server.app, cli.app); sys.argv[0] = 'mailbell'; cli.main()"
)
MESSAGE = b"From: user@example.com\r\nTo: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"


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


def add_server(ctx, actor, provider: str = "GMAIL", **extra) -> MailServer:
    data = {
        "name": f"{provider} oauth",
        "provider": provider,
        "username": "user@example.com",
        "auth": "XOAUTH2",
        "oauth_client_id": "client-id",
        "oauth_client_secret": "client-secret",
        **extra,
    }
    with ctx.session() as session:
        return create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            data=MailServerCreate.from_fields(data),
            actor=actor,
        )


def set_refresh_token(ctx, server_id: int, token: str) -> None:
    with ctx.session() as session:
        row = session.get(MailServer, server_id)
        row.oauth_refresh_token_enc = ctx.box.encrypt(token)
        session.add(row)
        session.commit()


def reload(ctx, server_id: int) -> MailServer:
    with ctx.session() as session:
        return session.get(MailServer, server_id)


async def test_refresh_grant_is_cached_and_single_flight(token_endpoint: TokenEndpoint) -> None:
    token_endpoint.add_refresh_token("rt-google")
    provider = OAuthTokenProvider(google_client(token_endpoint), refresh_token="rt-google")
    tokens = await asyncio.gather(*(provider() for _ in range(10)))
    assert len(set(tokens)) == 1 and tokens[0].startswith("at-")
    assert await provider() == tokens[0]
    assert len(token_endpoint.requests) == 1
    request = token_endpoint.requests[0]
    assert request["grant_type"] == "refresh_token" and request["refresh_token"] == "rt-google"
    assert request["client_secret"] == "client-secret"
    assert "rt-google" not in repr(provider) and "client-secret" not in repr(provider.client)


async def test_refresh_shortly_before_expiry(token_endpoint: TokenEndpoint) -> None:
    token_endpoint.add_refresh_token("rt")
    now = [time.time()]
    provider = OAuthTokenProvider(
        google_client(token_endpoint), refresh_token="rt", clock=lambda: now[0]
    )
    first = await provider()
    now[0] += 3600 - 120  # still two minutes left: cached
    assert await provider() == first
    now[0] += 90  # inside the 60 s margin: refreshed
    second = await provider()
    assert second != first and len(token_endpoint.requests) == 2


async def test_rotated_refresh_token_and_access_token_are_stored_encrypted(
    octx, actor, token_endpoint: TokenEndpoint
) -> None:
    token_endpoint.rotate = True
    token_endpoint.add_refresh_token("rt-old")
    server = add_server(octx, actor)
    set_refresh_token(octx, server.id, "rt-old")
    provider = token_provider_for(octx, reload(octx, server.id))
    token = await provider()
    row = reload(octx, server.id)
    new_refresh = octx.box.decrypt(row.oauth_refresh_token_enc)
    assert new_refresh.startswith("rt-") and new_refresh != "rt-old"
    assert new_refresh not in row.oauth_refresh_token_enc
    assert octx.box.decrypt(row.oauth_access_token_enc) == token
    assert token not in row.oauth_access_token_enc
    assert row.oauth_token_expires_at is not None

    # A new process starts from the stored state: the access token is reused, not refreshed.
    again = token_provider_for(octx, reload(octx, server.id))
    assert await again() == token
    assert len(token_endpoint.requests) == 1
    # ...and when it expires, the rotated refresh token is the one that works.
    again.invalidate()
    assert await again() != token
    assert token_endpoint.requests[-1]["refresh_token"] == new_refresh


async def test_refresh_failure_is_retryable_and_marks_the_server(
    octx, actor, token_endpoint: TokenEndpoint
) -> None:
    # (A revoked grant is not retried: tests/mail/test_oauth_revoked.py.)
    server = add_server(octx, actor)
    set_refresh_token(octx, server.id, "rt-live")
    token_endpoint.add_refresh_token("rt-live")
    token_endpoint.fail_with(503, "temporarily_unavailable", "busy; rt-live client-secret")
    provider = token_provider_for(octx, reload(octx, server.id))
    with pytest.raises(RetryableError) as caught:
        await provider()
    error = caught.value
    assert error.step == "oauth" and "temporarily_unavailable" in error.message
    assert "rt-live" not in error.message and "client-secret" not in error.message
    row = reload(octx, server.id)
    assert row.last_test_ok is False and row.auth_revoked_at is None
    assert row.last_test_message.startswith("OAuth: ")
    assert "temporarily_unavailable" in row.last_test_message

    await provider()  # the endpoint is back: the next try works
    row = reload(octx, server.id)
    assert row.last_test_ok is None and row.last_test_message is None


async def test_endpoint_errors_never_echo_secrets(token_endpoint: TokenEndpoint) -> None:
    token_endpoint.fail_with(500, "server_error", "boom for client-secret and rt-x")
    provider = OAuthTokenProvider(google_client(token_endpoint), refresh_token="rt-x")
    with pytest.raises(RetryableError) as caught:
        await provider()
    assert "server_error" in caught.value.message
    assert "client-secret" not in caught.value.message and "rt-x" not in caught.value.message


async def test_unreachable_endpoint_and_unconfigured_server(octx, actor) -> None:
    client = OAuthClient("GMAIL", "id", "secret", None, "http://127.0.0.1:9/token", "", "")
    with pytest.raises(RetryableError, match="unreachable"):
        await OAuthTokenProvider(client, refresh_token="rt", timeout=2)()
    server = add_server(octx, actor)  # no refresh token yet
    with pytest.raises(RetryableError, match=r"not authorized.*oauth authorize"):
        await token_provider_for(octx, reload(octx, server.id))()
    smtp = add_server(octx, actor, provider="SMTP", name="plain", host="smtp.example.org")
    with pytest.raises(RetryableError, match="OAuth is not configured"):
        await provider_for_server(reload(octx, smtp.id), settings=octx.settings, box=octx.box)()


async def test_microsoft_client_credentials_and_refresh(
    octx, actor, token_endpoint: TokenEndpoint
) -> None:
    server = add_server(octx, actor, provider="MS365", oauth_directory_id="contoso.onmicrosoft.com")
    provider = token_provider_for(octx, reload(octx, server.id))
    assert provider.grant == "client_credentials"
    await provider()
    request = token_endpoint.requests[-1]
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == MICROSOFT_APP_SCOPE == "https://outlook.office365.com/.default"
    assert token_endpoint.tenants == ["contoso.onmicrosoft.com"]

    token_endpoint.add_refresh_token("rt-ms")
    set_refresh_token(octx, server.id, "rt-ms")
    delegated = token_provider_for(octx, reload(octx, server.id))
    delegated.invalidate()
    await delegated()
    assert delegated.grant == "refresh_token"
    assert "SMTP.Send" in token_endpoint.requests[-1]["scope"]


async def test_xoauth2_send_through_the_pool(smtp_servers, token_endpoint: TokenEndpoint) -> None:
    token_endpoint.add_refresh_token("rt")
    token_endpoint.expected_user = "user@example.com"
    server = smtp_servers(mode="tls", xoauth2=token_endpoint.verify)
    provider = OAuthTokenProvider(google_client(token_endpoint), refresh_token="rt")
    config = server.smtp_config(auth="XOAUTH2", token_provider=provider, password=None)
    config = type(config)(**{**config.__dict__, "username": "user@example.com"})
    pool = SmtpPool(config, size=1)
    for _ in range(3):
        await pool.send(sender="user@example.com", recipients=["a@example.org"], message=MESSAGE)
    await pool.close()
    assert [a.mechanism for a in server.auth_attempts] == ["XOAUTH2"]
    assert server.messages[0].auth_user == "user@example.com"

    # The server stops accepting the cached token: dropped, one fresh token, and the send works.
    token_endpoint.expire_access_tokens()
    pool = SmtpPool(config, size=1)
    await pool.send(sender="user@example.com", recipients=["a@example.org"], message=MESSAGE)
    assert [a.success for a in server.auth_attempts] == [True, False, True]
    assert len(token_endpoint.requests) == 2

    # A token for the wrong user is refused even when fresh: a permanent auth failure.
    token_endpoint.expected_user = "someone@else.org"
    provider.invalidate()
    with pytest.raises(PermanentError) as caught:
        await SmtpPool(config).send(
            sender="user@example.com", recipients=["a@example.org"], message=MESSAGE
        )
    assert caught.value.step == "auth" and caught.value.code == 535


async def test_authorization_code_helper(octx, actor, token_endpoint: TokenEndpoint) -> None:
    server = add_server(octx, actor)
    client = OAuthClient.from_server(reload(octx, server.id), settings=octx.settings, box=octx.box)
    request = build_authorization_request(client, login_hint="user@example.com")
    assert request.url.startswith(token_endpoint.auth_url + "?")
    for part in ("access_type=offline", "prompt=consent", "code_challenge_method=S256"):
        assert part in request.url
    assert "client-secret" not in request.url and request.code_verifier not in request.url

    redirect = token_endpoint.authorize(request.url)
    code = parse_redirect(redirect, expected_state=request.state)
    tokens = await exchange_code(client, request, code)
    assert tokens.refresh_token
    with octx.session() as session:
        row = session.get(MailServer, server.id)
        store_tokens(row, tokens, box=octx.box)
        session.add(row)
        session.commit()
    assert octx.box.decrypt(reload(octx, server.id).oauth_refresh_token_enc) == tokens.refresh_token

    other = build_authorization_request(client)
    with pytest.raises(RetryableError, match="invalid_grant"):  # a code is used once
        await exchange_code(client, other, code)


@pytest.mark.parametrize(("pasted", "message"), [
    ("", "is empty"),
    ("not a url", "does not look like the redirect address"),
    ("http://localhost:8765/oauth/callback?error=access_denied&error_description=The+user+declined"
     "&state=S", "refused the authorization (access_denied: The user declined)"),
    ("http://localhost:8765/oauth/callback?code=abc&state=other", "state does not match"),
    ("http://localhost:8765/oauth/callback?state=S", "has no code"),
])  # fmt: skip
def test_parse_redirect_refusals(pasted: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_redirect(pasted, expected_state="S")
    assert caught.value.field == "redirect_url"
    assert message in caught.value.message


def test_parse_redirect_accepts_the_address_or_its_query() -> None:
    assert parse_redirect(" http://localhost/cb?state=S&code=c1 \n", expected_state="S") == "c1"
    assert parse_redirect("?code=c2&state=S", expected_state="S") == "c2"
    assert parse_redirect("code=c3&state=S", expected_state="S") == "c3"


def test_microsoft_consent_url(token_endpoint: TokenEndpoint) -> None:
    settings = Settings(**token_endpoint.settings_overrides())
    server = MailServer(
        name="m", provider="MS365", oauth_client_id="client-id", oauth_directory_id="tid"
    )
    client = OAuthClient.from_server(server, settings=settings, box=None)  # type: ignore[arg-type]
    url = build_authorization_request(client).url
    assert url.startswith(f"{token_endpoint.base_url}/tid/oauth2/v2.0/authorize?")
    assert "response_mode=query" in url and "offline_access" in url
    with pytest.raises(ValidationError, match="GMAIL or MS365"):
        OAuthClient.from_server(MailServer(name="s", provider="SMTP"), settings=settings, box=None)  # type: ignore[arg-type]


def test_cli_authorize_end_to_end(home: Path, token_endpoint: TokenEndpoint, cli) -> None:
    assert cli(
        "server", "add", "--system", "--name", "Gmail", "--provider", "gmail",
        "--username", "user@example.com", "--auth", "XOAUTH2",
        "--oauth-client-id", "client-id", "--oauth-client-secret", "client-secret",
    ).code == 0  # fmt: skip
    env = {**os.environ, **token_endpoint.environment(), "MAILBELL_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-c", MAILBELL, "oauth", "authorize", "--server", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert process.stdout is not None and process.stdin is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("http"):
            break
    assert lines and lines[-1].startswith("http"), process.stderr.read() if process.stderr else ""
    process.stdin.write(token_endpoint.authorize(lines[-1].strip()) + "\n")
    process.stdin.close()
    rest = process.stdout.read()
    assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
    assert "mail server 1 authorized" in rest
    assert "client-secret" not in "".join(lines) + rest

    ctx = build_context(Settings(home=home))
    try:
        with ctx.session() as session:
            row = session.get(MailServer, 1)
            assert ctx.box.decrypt(row.oauth_refresh_token_enc).startswith("rt-")
            actions = [e.action for e in session.exec(select(AuditEntry))]
            assert "mail_server.oauth_authorize" in actions
    finally:
        ctx.close()


def test_cli_authorize_refusals(cli, monkeypatch, token_endpoint: TokenEndpoint) -> None:
    import io

    from mailbell import cli as cli_module
    from mailbell.commands import mailtest, server

    mailtest.register(server.app, cli_module.app)
    assert cli("tenant", "add", "acme").code == 0
    assert cli(
        "server", "add", "--tenant", "acme", "--name", "Plain", "--host", "smtp.a.org",
        "--username", "u", "--password", "pw", "--from", "a@a.org",
    ).code == 0  # fmt: skip
    result = cli("oauth", "authorize", "--server", "1", "--tenant", "acme")
    assert result.code == 1 and "GMAIL or MS365" in result.err
    assert cli("oauth", "authorize", "--server", "9").code == 1
    for name, value in token_endpoint.environment().items():
        monkeypatch.setenv(name, value)
    assert cli(
        "server", "add", "--system", "--name", "G", "--provider", "gmail",
        "--username", "me@gmail.com", "--auth", "XOAUTH2", "--oauth-client-id", "client-id",
    ).code == 0  # fmt: skip
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("http://localhost:8765/oauth/callback?code=x&state=forged\n")
    )
    result = cli("oauth", "authorize", "--server", "2", "--system")
    assert result.code == 1
    assert "redirect_url: state does not match" in result.err
    assert token_endpoint.requests == []  # a forged redirect never reaches the token endpoint
