"""The mail-server check against real SMTP servers (aiosmtpd with STARTTLS and AUTH): which
servers it probes, that nothing is sent, certificates about to expire or expired, revoked
authorizations, wrong passwords, silent servers, bounded concurrency and XOAUTH2 tokens."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from core.context import Context
from core.health.checks import mail_servers
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models.mail import MailServer
from core.services.audit import Actor
from core.vocabulary import HealthKind, HealthState
from tests.support import fixtures
from tests.support.factories import make_mail_server, make_tenant
from tests.support.health_sinks import expiring_certs
from tests.support.token_endpoint import TokenEndpoint

octx = fixtures.octx
OK, WARNING, CRITICAL = HealthState.OK, HealthState.WARNING, HealthState.CRITICAL
PASSWORD = "correct-horse"


async def results(ctx: Context, scope: CheckScope | None = None) -> dict[str, CheckResult]:
    return {r.key: r for r in await mail_servers.check(ctx, scope or CheckScope())}


def key(server: object) -> str:
    return f"mail_server:{server.id}"  # type: ignore[attr-defined]


async def test_every_effective_server_is_probed_and_nothing_is_sent(
    ctx: Context, session: Session, actor: Actor, smtp_servers
) -> None:
    sink = smtp_servers(mode="starttls", auth=True)
    system = make_mail_server(session, ctx.box, None, smtp=sink, name="System")
    acme = make_tenant(session)
    own = make_mail_server(session, ctx.box, acme, smtp=sink, name="Main")
    # not a default: nobody sends through it, so nobody is told about it
    make_mail_server(session, ctx.box, acme, name="Spare", host="127.0.0.1", port=1)
    make_tenant(session, slug="globex")  # no server of its own: adds no subject
    found = await results(ctx)
    assert set(found) == {key(system), key(own)}
    main = found[key(own)]
    assert (main.kind, main.tenant_id, main.subject, main.state) == (
        HealthKind.MAIL_SERVER,
        acme.id,
        "Main",
        OK,
    )
    assert main.reason.startswith(f"connection to 127.0.0.1:{sink.port} works")
    assert main.detail["server_id"] == own.id and main.detail["action"] == "none"
    assert 85 <= main.detail["certificate_days"] <= 90  # the test CA's 90-day certificate
    assert found[key(system)].tenant_id is None
    assert sink.messages == []  # no MAIL step, no message
    assert [a.success for a in sink.auth_attempts] == [True, True]
    assert set(await results(ctx, CheckScope(tenant_id=acme.id))) == {key(own)}
    assert set(await results(ctx, CheckScope(system=True))) == {key(system)}


async def test_a_certificate_expiring_in_5_days_is_a_warning(
    ctx: Context, session: Session, smtp_servers, tmp_path: Path
) -> None:
    certs = expiring_certs(tmp_path, days=5)
    sink = smtp_servers(mode="starttls", auth=True, certs=certs)
    # verified against the CA given as PEM text: the certificate is still valid
    server = make_mail_server(
        session, ctx.box, None, smtp=sink, ca_file=None, ca_pem=certs.ca_file.read_text()
    )
    result = (await results(ctx))[key(server)]
    assert result.state == WARNING
    expiry = datetime.now(UTC) + timedelta(days=5)
    assert result.reason == f"certificate expires in 5 days ({expiry:%Y-%m-%d})"
    assert result.detail["certificate_days"] == 5
    assert "renew the certificate of 127.0.0.1" in result.detail["action"]


@pytest.mark.parametrize("verify", [True, False])
async def test_an_expired_certificate_is_critical(
    ctx: Context, session: Session, smtp_servers, tmp_path: Path, verify: bool
) -> None:
    certs = expiring_certs(tmp_path, days=-2)
    sink = smtp_servers(mode="starttls", auth=True, certs=certs)
    server = make_mail_server(session, ctx.box, None, smtp=sink, tls_verify=verify)
    result = (await results(ctx))[key(server)]
    assert result.state == CRITICAL
    expired = datetime.now(UTC) - timedelta(days=2)
    assert result.reason.startswith(f"certificate expired on {expired:%Y-%m-%d}")
    assert result.detail["certificate_days"] == -2
    if verify:  # the handshake itself failed: the step and the hint say so
        assert result.reason.endswith("(starttls failed)")
        assert "The server's certificate has expired." in result.detail["action"]
        assert sink.auth_attempts == []
    else:
        assert [a.success for a in sink.auth_attempts] == [True]


async def test_a_revoked_authorization_is_critical_without_connecting(
    ctx: Context, session: Session, smtp_servers
) -> None:
    sink = smtp_servers(mode="starttls", auth=True)
    server = make_mail_server(session, ctx.box, None, smtp=sink)
    row = session.get(MailServer, server.id)
    assert row is not None
    row.auth_revoked_at = datetime.now(UTC)
    row.auth_revoked_reason = "invalid_grant: token has been revoked"
    session.add(row)
    session.commit()
    result = (await results(ctx))[key(server)]
    assert result.state == CRITICAL
    command = f"`mailbell oauth authorize --server {server.id}`"
    cause = "invalid_grant: token has been revoked"
    assert result.reason == f"authorization revoked ({cause}): re-authorize with {command}"
    assert result.detail == {"server_id": server.id, "action": f"re-authorize with {command}"}
    assert sink.connections == 0


async def test_a_refused_password_is_critical_with_the_step_and_hint_and_no_secret(
    ctx: Context, session: Session, smtp_servers
) -> None:
    sink = smtp_servers(mode="starttls", auth=True)
    wrong = "wrong-staple-9431"
    server = make_mail_server(session, ctx.box, None, smtp=sink, password=wrong)
    result = (await results(ctx))[key(server)]
    assert result.state == CRITICAL
    assert result.reason.startswith("auth failed: ")
    assert "535" in result.reason and "username or password was refused" in result.reason
    assert f"`mailbell server test {server.id}`" in result.detail["action"]
    assert wrong not in repr(result) and PASSWORD not in repr(result)
    assert [a.success for a in sink.auth_attempts] == [False]  # one attempt, as when sending


async def test_a_server_that_does_not_answer_is_cut_off_and_critical(
    ctx: Context, session: Session, smtp_servers
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"health_check_timeout_s": 0.3})
    silent = smtp_servers(mode="silent")
    sink = smtp_servers()
    mute = make_mail_server(session, ctx.box, None, smtp=silent, timeout=20)
    fine = make_mail_server(session, ctx.box, make_tenant(session), smtp=sink)
    found = await results(ctx)
    assert found[key(mute)].state == CRITICAL
    assert found[key(mute)].reason == f"no answer from 127.0.0.1:{silent.port} within 0.3 s"
    assert found[key(fine)].state == OK


async def test_probes_run_at_most_health_concurrency_at_a_time(
    ctx: Context, session: Session, smtp_servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"health_concurrency": 2})
    monkeypatch.setattr(mail_servers, "PROBES_PER_S", 1e6)  # all six ask for a turn at once
    sink = smtp_servers(mode="starttls", auth=True)
    for n in range(6):
        make_mail_server(session, ctx.box, make_tenant(session, slug=f"t{n}"), smtp=sink)
    running, most = 0, 0
    real = mail_servers.diagnose

    async def counted(config, **kw):
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.05)  # let the others start if the gate allowed them
            return await real(config, **kw)
        finally:
            running -= 1

    monkeypatch.setattr(mail_servers, "diagnose", counted)
    found = await results(ctx)
    assert [r.state for r in found.values()] == [OK] * 6
    assert most == 2


async def test_a_pass_builds_one_tls_context_per_trust_setting_off_the_loop(
    ctx: Context, session: Session, smtp_servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = smtp_servers(mode="starttls", auth=True)
    plain = smtp_servers()
    for n in range(4):
        make_mail_server(session, ctx.box, make_tenant(session, slug=f"t{n}"), smtp=sink)
    unverified = make_mail_server(
        session, ctx.box, make_tenant(session, slug="u"), smtp=sink, tls_verify=False
    )
    make_mail_server(session, ctx.box, make_tenant(session, slug="p"), smtp=plain)
    loop_thread = threading.get_ident()
    built: list[tuple[bool, bool]] = []
    real = mail_servers.build_tls_context

    def counted(config):
        built.append((config.tls_verify, threading.get_ident() == loop_thread))
        return real(config)

    monkeypatch.setattr(mail_servers, "build_tls_context", counted)
    found = await results(ctx)
    assert [r.state for r in found.values()] == [OK] * 6
    assert sorted(built) == [(False, False), (True, False)]  # two settings, each on a thread
    assert found[key(unverified)].detail["certificate_days"] > 14


async def test_an_xoauth2_server_gets_its_token_refreshed_and_stored(
    octx: Context, actor: Actor, smtp_servers, token_endpoint: TokenEndpoint
) -> None:
    sink = smtp_servers(mode="starttls", xoauth2=token_endpoint.verify)
    token_endpoint.add_refresh_token("rt-health")
    with octx.session() as session:
        server = make_mail_server(
            session,
            octx.box,
            None,
            smtp=sink,
            provider="GMAIL",
            auth="XOAUTH2",
            username="user@example.com",
            password=None,
            oauth_client_id="client-id",
            oauth_client_secret="client-secret",
        )
        row = session.get(MailServer, server.id)
        assert row is not None
        row.oauth_refresh_token_enc = octx.box.encrypt("rt-health")
        session.add(row)
        session.commit()
    result = (await results(octx))[key(server)]
    assert result.state == OK, result.reason
    assert [r["grant_type"] for r in token_endpoint.requests] == ["refresh_token"]
    assert [a.mechanism for a in sink.auth_attempts] == ["XOAUTH2"]
    with octx.session() as session:
        row = session.get(MailServer, server.id)
        assert row is not None and row.oauth_access_token_enc is not None
        assert octx.box.decrypt(row.oauth_access_token_enc) in token_endpoint.issued
    # the stored token is used until it is due: the next pass asks the endpoint nothing
    assert (await results(octx))[key(server)].state == OK
    assert len(token_endpoint.requests) == 1
    # a refresh the provider refuses fails the oauth step
    with octx.session() as session:
        row = session.get(MailServer, server.id)
        assert row is not None
        row.oauth_access_token_enc = None
        session.add(row)
        session.commit()
    token_endpoint.fail_with(400, "invalid_grant", "Token has been expired or revoked.")
    result = (await results(octx))[key(server)]
    assert result.state == CRITICAL and result.reason.startswith("oauth failed:")
    assert "rt-health" not in repr(result)
