"""The whole delivery path against real aiosmtpd servers: emit → outbox → worker → SMTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlmodel import select

from core.catalog import sample
from core.models.delivery import Delivery
from core.models.mail import MailServerUpdate
from core.pipeline.worker import Worker
from tests.support.factories import configure_tenant, emit_events
from tests.support.smtp_handlers import FaultHandler

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = "a@acme.org,b@acme.org,c@acme.org"


def _configure(session, ctx, tenant, actor, srv, **server_overrides) -> None:
    """`tenant` sends through `srv` to RECIPIENTS; QUEUE_CALL_LOST on."""
    server = {"name": "test", "mail_from": "PBX <pbx@acme.org>", **server_overrides}
    recipients = RECIPIENTS.split(",")
    configure_tenant(
        session, ctx.box, tenant, smtp=srv, server=server, recipients=recipients, actor=actor
    )


async def _drain(ctx, *, rounds=1, pause=0.05, **kwargs):
    worker = Worker(ctx, **kwargs)
    try:
        for index in range(rounds):
            if index:
                await asyncio.sleep(pause)
            await worker.run_once()
        return worker.stats
    finally:
        await worker.close()


def _rows(ctx) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


async def test_event_arrives_rendered_with_headers(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(mode="starttls", auth=True)
    _configure(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [received] = srv.messages
    assert received.tls and received.auth_user == "user@example.com"
    assert sorted(received.rcpt_tos) == RECIPIENTS.split(",")
    assert received.mail_from == "pbx@acme.org"
    message = BytesParser(policy=policy.default).parsebytes(received.data)
    payload = sample("QUEUE_CALL_LOST")
    assert payload["queue_name"] in message["Subject"]
    assert payload["caller"] in message.get_body(("plain",)).get_content()
    assert message["From"] == "PBX <pbx@acme.org>"
    [row] = _rows(ctx)
    assert row.id == delivery_id and row.status == "sent"
    assert row.message_id == message["Message-ID"] and row.reply.startswith("250")


async def test_server_down_then_up_delivers_each_once(ctx, session, actor, acme, smtp_servers):
    ctx.settings.retry_base_s = 0.05
    srv = smtp_servers()
    _configure(session, ctx, acme, actor, srv)
    emit_events(session, ctx.box, acme, 5)
    srv.stop()
    await _drain(ctx)
    rows = _rows(ctx)
    assert {r.status for r in rows} == {"queued"} and all(r.attempts == 1 for r in rows)
    assert all("[connect]" in r.last_error for r in rows)
    srv.start()
    await _drain(ctx, rounds=20, pause=0.1)
    assert {r.status for r in _rows(ctx)} == {"sent"}
    ids = [m.message_id for m in srv.messages]
    assert len(ids) == 5 and len(set(ids)) == 5


async def test_one_recipient_refused(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": "550 5.1.1 no such user"}))
    _configure(session, ctx, acme, actor, srv)
    emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [row] = _rows(ctx)
    assert row.status == "partial"
    assert row.results["b@acme.org"]["status"] == "failed"
    assert "550 5.1.1 no such user" in row.results["b@acme.org"]["reply"]
    assert sorted(srv.messages[0].rcpt_tos) == ["a@acme.org", "c@acme.org"]


async def test_wrong_password_fails_after_one_attempt(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(mode="starttls", auth=True)
    _configure(session, ctx, acme, actor, srv, password="not-the-password")
    emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [row] = _rows(ctx)
    assert row.status == "failed" and "535" in row.last_error
    assert "not-the-password" not in row.last_error
    assert len(srv.auth_attempts) == 1 and srv.messages == []


async def test_required_starttls_never_falls_back(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(mode="starttls", hide_starttls=True)
    _configure(session, ctx, acme, actor, srv, security="starttls")
    emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [row] = _rows(ctx)
    assert row.status == "failed" and "STARTTLS" in row.last_error
    assert srv.messages == []


async def test_untrusted_certificate(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(mode="tls")
    _configure(session, ctx, acme, actor, srv, ca_file=None)
    emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [row] = _rows(ctx)
    assert row.status == "failed" and "certificate" in row.last_error.lower()
    assert srv.messages == []


async def test_rate_limit_is_never_exceeded(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers()
    _configure(session, ctx, acme, actor, srv, rate_limit_per_minute=7)
    emit_events(session, ctx.box, acme, 10)
    started = time.monotonic()
    stats = await _drain(ctx)
    assert time.monotonic() - started < 30
    assert len(srv.messages) == 7 and stats.paced == 3
    waiting = [r for r in _rows(ctx) if r.status == "queued"]
    assert len(waiting) == 3 and all(r.attempts == 0 for r in waiting)


async def test_connections_are_reused(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(mode="starttls", auth=True)
    _configure(session, ctx, acme, actor, srv)
    emit_events(session, ctx.box, acme, 40)
    await _drain(ctx, pool_size=4)
    assert len(srv.messages) == 40
    assert srv.connections <= 4
    assert len(srv.auth_attempts) == srv.connections


def test_worker_killed_mid_burst_loses_nothing(ctx, session, actor, acme, smtp_servers, home):
    srv = smtp_servers(handler=FaultHandler(stall=0.02, stall_at="data"))
    _configure(session, ctx, acme, actor, srv)
    count = 150
    emit_events(session, ctx.box, acme, count)
    env = {**os.environ, "MAILBELL_WORKER_LEASE_S": "2"}

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "mailbell", "worker"], cwd=ROOT, env=env)

    worker = start_worker()
    deadline = time.monotonic() + 30
    while len(srv.messages) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert len(srv.messages) < count  # killed mid-burst
    worker = start_worker()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(r.status == "sent" for r in _rows(ctx)):
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    assert [r.status for r in _rows(ctx)] == ["sent"] * count
    ids = [m.message_id for m in srv.messages]
    assert set(ids) == {r.message_id for r in _rows(ctx)}  # nothing lost
    duplicates = len(ids) - len(set(ids))
    assert duplicates <= 64  # at most what the killed worker had in flight
    print(f"duplicates after SIGKILL: {duplicates}")


def test_cli_emit_worker_and_log(cli, ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers()
    _configure(session, ctx, acme, actor, srv)
    data = json.dumps(sample("QUEUE_CALL_LOST"))
    emitted = cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", data, "--json")
    assert emitted.code == 0, emitted.err
    [row] = json.loads(emitted.out)
    assert row["status"] == "queued" and row["channel"] == "email"
    result = cli("worker", "--once")
    assert result.code == 0 and "1 sent" in result.out
    assert len(srv.messages) == 1
    listed = json.loads(cli("deliveries", "list", "--tenant", "acme", "--json").out)
    assert listed[0]["status"] == "sent" and listed[0]["message_id"]
    assert set(listed[0]) == {
        "id",
        "event",
        "tenant",
        "channel",
        "target",
        "status",
        "attempts",
        "last_error",
        "message_id",
        "created_at",
        "sent_at",
    }


def _attempts(ctx, delivery_id) -> list[tuple[str, str | None, str | None]]:
    from core.services.deliveries import list_attempts

    with ctx.session() as session:
        return [
            (a.outcome, a.detail, a.worker)
            for a in list_attempts(session=session, delivery_id=delivery_id)
        ]


async def test_attempts_451_then_250(ctx, session, actor, acme, smtp_servers):
    ctx.settings.retry_base_s = 0.05
    srv = smtp_servers(handler=FaultHandler(data="451 4.3.0 try again later", times=1))
    _configure(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    worker = Worker(ctx, owner="worker-a")
    try:
        for _ in range(20):
            await worker.run_once()
            if _rows(ctx)[0].status == "sent":
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.close()
    [row] = _rows(ctx)
    assert row.status == "sent" and row.attempts == 2
    attempts = _attempts(ctx, delivery_id)
    assert [outcome for outcome, _, _ in attempts] == ["retry", "sent"]
    assert "451 4.3.0 try again later" in attempts[0][1]
    assert attempts[1][1] == row.reply and attempts[1][1].startswith("250 ")
    assert {w for _, _, w in attempts} == {"worker-a"}


async def test_attempt_partial_names_the_refused_recipient(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": "550 5.1.1 no such user"}))
    _configure(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [(outcome, detail, worker)] = _attempts(ctx, delivery_id)
    assert outcome == "partial"
    assert "b@acme.org: 550 5.1.1 no such user" in detail
    assert detail.startswith("250 ")  # what the others got
    assert "a@acme.org" not in detail and "c@acme.org" not in detail
    assert worker


async def test_attempt_permanent_554_failed(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(
        mode="starttls",
        auth=True,
        handler=FaultHandler(data="554 5.7.1 message rejected as spam"),
    )
    _configure(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    await _drain(ctx)
    [row] = _rows(ctx)
    assert row.status == "failed"
    [(outcome, detail, _)] = _attempts(ctx, delivery_id)
    assert outcome == "failed" and "554 5.7.1 message rejected as spam" in detail
    assert "correct-horse" not in detail  # the server's password is never recorded


def test_cli_show_lists_attempts_and_retry_is_not_one(cli, ctx, session, actor, acme, smtp_servers):
    refused = "550 5.1.1 mailbox unavailable"
    srv = smtp_servers(handler=FaultHandler(rcpt=dict.fromkeys(RECIPIENTS.split(","), refused)))
    _configure(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    assert cli("worker", "--once").code == 0
    shown = cli("deliveries", "show", str(delivery_id), "--json")
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert data["status"] == "failed" and data["attempt_count"] == 1
    [attempt] = data["attempts"]
    assert set(attempt) == {"at", "outcome", "detail", "worker"}
    assert attempt["outcome"] == "failed" and refused in attempt["detail"]
    assert cli("deliveries", "retry", str(delivery_id)).code == 0  # by hand: not an attempt
    assert (
        len(json.loads(cli("deliveries", "show", str(delivery_id), "--json").out)["attempts"]) == 1
    )
    srv.handler.rcpt_replies.clear()
    assert cli("worker", "--once").code == 0
    data = json.loads(cli("deliveries", "show", str(delivery_id), "--json").out)
    assert [a["outcome"] for a in data["attempts"]] == ["failed", "sent"]
    text = cli("deliveries", "show", str(delivery_id))
    assert text.code == 0
    lines = text.out.splitlines()
    assert any(line.split() == ["attempt_count", "2"] for line in lines)
    start = lines.index("history:")
    assert "failed" in lines[start + 1] and refused in lines[start + 1]
    assert "sent" in lines[start + 2] and "250 " in lines[start + 2]


async def test_a_running_worker_follows_a_server_changed_elsewhere(
    session, ctx, acme, actor, smtp_servers, settings
) -> None:
    """The worker keeps server rows between claims; a change committed by another process (a
    second context here) reaches its next send."""
    from core.context import build_context
    from core.models.mail import MailServer
    from core.services.mail_servers import update_mail_server

    first, second = smtp_servers(), smtp_servers()
    _configure(session, ctx, acme, actor, first)
    worker = Worker(ctx)
    try:
        emit_events(session, ctx.box, acme, 1)
        assert (await worker.run_once()).sent == 1
        other = build_context(settings)
        try:
            with other.session() as elsewhere:
                server_id = elsewhere.exec(select(MailServer.id)).one()
                update_mail_server(
                    session=elsewhere,
                    box=other.box,
                    tenant=acme,
                    server_id=server_id,
                    changes=MailServerUpdate.from_fields({"port": second.port}),
                    actor=actor,
                )
        finally:
            other.close()
        emit_events(session, ctx.box, acme, 1)
        assert (await worker.run_once()).sent == 2  # the worker's running total
    finally:
        await worker.close()
    assert len(first.messages) == 1 and len(second.messages) == 1
