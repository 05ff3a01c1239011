"""A refused password is not tried more than twice an hour, however many deliveries wait and
however many workers send them; changing the password (or an hour passing) lets it try again.

Real parts: an aiosmtpd server with AUTH that counts every attempt, emit, the worker(s), the
services. The guard's clock is a fake one (core.mail.auth_guard.utcnow), moved by hand."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from core.mail import auth_guard
from core.mail.auth_refusals import paused_until, recent_refusals
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.health import ServiceLease
from core.models.mail import MailServer, MailServerUpdate
from core.pipeline.worker import Worker
from core.services.mail_servers import get_mail_server, update_mail_server
from core.services.mail_tests import test_mail_server
from tests.support.factories import configure_tenant, emit_events, make_tenant
from tests.support.server_login import deliveries, slack_status

WRONG = "wrong-horse"
RIGHT = "correct-horse"  # what the test server's user has (tests/support/smtp_servers.py)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth_guard, "utcnow", lambda: fake.now)
    return fake


@pytest.fixture
def refusing(ctx, session, actor, smtp_servers):
    """Tenant acme sending through an AUTH server with a wrong stored password."""
    srv = smtp_servers(auth=True)
    tenant = make_tenant(session, actor=actor)
    server = {"name": "main", "mail_from": "pbx@acme.org", "password": WRONG}
    configure_tenant(session, ctx.box, tenant, smtp=srv, server=server, actor=actor)
    with ctx.session() as fresh:
        [row] = fresh.exec(select(MailServer)).all()
    return srv, tenant, row.id


def _make_due(ctx) -> None:
    """Every waiting delivery due now (what time passing does to them)."""
    with ctx.session() as session:
        session.execute(
            update(Delivery)
            .where(col(Delivery.status) == "queued")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()


async def _drain(ctx, workers: int = 1) -> None:
    """`workers` workers (each its own channel, pools and guard, as separate processes would
    have) deliver what is due, at once."""
    running = [Worker(ctx, pool_size=4) for _ in range(workers)]
    try:
        await asyncio.gather(*(worker.run_once() for worker in running))
    finally:
        for worker in running:
            await worker.close()


def _refusals(ctx, server_id: int) -> list[str]:
    with ctx.session() as session:
        return list(session.get(MailServer, server_id).auth_refusals)


@pytest.mark.parametrize("workers", [1, 3])
async def test_ten_deliveries_make_two_refused_logins_an_hour(
    ctx, session, actor, refusing, clock: Clock, workers: int
) -> None:
    srv, tenant, server_id = refusing
    emit_events(session, ctx.box, tenant, 10)
    await _drain(ctx, workers)

    attempts = srv.auth_attempts
    assert len(attempts) == 2 and not any(a.success for a in attempts)
    rows = deliveries(ctx)
    failed = [r for r in rows if r.status == "failed"]
    waiting = [r for r in rows if r.status == "queued"]
    assert len(failed) == 2 and all("535" in r.last_error for r in failed)
    assert len(waiting) == 8
    until = clock.now + timedelta(hours=1)
    for row in waiting:  # deferred, with the time and the way out in the reason
        assert "refused the credentials" in row.last_error
        assert f"{until:%Y-%m-%d %H:%M} UTC" in row.last_error
        assert "as soon as they are changed" in row.last_error
        assert row.next_attempt_at >= utcnow() + timedelta(minutes=59)
    assert len(_refusals(ctx, server_id)) == 2
    read = get_mail_server(session=session, tenant=tenant, server_id=server_id)
    assert read.credentials_paused_until is not None
    assert read.auth_problem and "credentials refused" in read.auth_problem
    assert f"credentials refused* — tried again at {until:%H:%M} UTC" in slack_status(ctx, tenant)
    with ctx.session() as fresh:  # every attempt gave its lease back
        assert fresh.exec(select(ServiceLease)).all() == []

    # Due again within the hour: nothing connects, nothing is tried.
    connections = srv.connections
    clock.advance(minutes=59)
    _make_due(ctx)
    await _drain(ctx, workers)
    assert len(srv.auth_attempts) == 2 and srv.connections == connections
    assert sum(r.status == "queued" for r in deliveries(ctx)) == 8

    # An hour after the refusals: the credentials are tried again, twice at most.
    clock.advance(minutes=2)
    _make_due(ctx)
    await _drain(ctx, workers)
    assert len(srv.auth_attempts) == 4 and not any(a.success for a in srv.auth_attempts)
    assert sum(r.status == "queued" for r in deliveries(ctx)) == 6

    # The password is changed: the pause ends at once and the waiting mail goes.
    update_mail_server(
        session=session,
        box=ctx.box,
        tenant=tenant,
        server_id=server_id,
        changes=MailServerUpdate.from_fields({"password": RIGHT}),
        actor=actor,
    )
    assert _refusals(ctx, server_id) == []
    await _drain(ctx, workers)  # no _make_due: the change made them due
    statuses = [r.status for r in deliveries(ctx)]
    assert statuses.count("sent") == 6 and statuses.count("failed") == 4
    assert len(srv.messages) == 6 and srv.auth_attempts[-1].success


async def test_the_admin_test_may_try_and_its_refusal_counts(
    ctx, session, actor, refusing, clock: Clock
) -> None:
    srv, tenant, server_id = refusing
    report = await test_mail_server(ctx=ctx, tenant=tenant, server_id=server_id)
    assert not report.ok and report.failed.step == "auth"
    assert len(_refusals(ctx, server_id)) == 1
    emit_events(session, ctx.box, tenant, 3)
    await _drain(ctx)
    # one delivery spent the second refusal; the others wait
    assert len(srv.auth_attempts) == 2
    assert [r.status for r in deliveries(ctx)].count("queued") == 2
    # Paused, yet the admin's test still connects (and counts: three refusals recorded)...
    report = await test_mail_server(ctx=ctx, tenant=tenant, server_id=server_id)
    assert not report.ok and len(srv.auth_attempts) == 3
    assert len(_refusals(ctx, server_id)) == 3
    # ...and a test that logs in (the password fixed at the server) ends the pause.
    srv.users["user@example.com"] = WRONG
    report = await test_mail_server(ctx=ctx, tenant=tenant, server_id=server_id)
    assert report.ok and _refusals(ctx, server_id) == []
    await _drain(ctx)  # the waiting deliveries were made due by the successful login
    assert [r.status for r in deliveries(ctx)].count("sent") == 2


def test_refusal_window_rules() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)
    stamps = [(now - timedelta(minutes=m)).isoformat() for m in (90, 50, 10)]
    assert [now - r for r in recent_refusals([*stamps, "garbage"], now)] == [
        timedelta(minutes=50),
        timedelta(minutes=10),
    ]
    assert paused_until(stamps, now) == now + timedelta(minutes=10)  # the 50-minute-old one
    assert paused_until(stamps[:2], now) is None
    three = [(now - timedelta(minutes=m)).isoformat() for m in (40, 30, 20)]
    assert paused_until(three, now) == now + timedelta(minutes=30)
