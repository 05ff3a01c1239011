"""Retention: finished deliveries past MAILBELL_RETENTION_DAYS go with their messages, attempts
and emptied events; audit entries past MAILBELL_AUDIT_RETENTION_DAYS go; queued and sending
deliveries stay whatever their age.

Rows are made through the real emit path (and sent by the real worker to a real SMTP server),
then aged with an UPDATE of their timestamps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from core.config import Settings
from core.context import Context, build_context
from core.models._common import utcnow
from core.models.audit import AuditEntry
from core.models.delivery import Delivery, DeliveryAttempt, DeliveryContent, EventRecord
from core.models.tenancy import Tenant
from core.pipeline import outbox
from core.pipeline.retention import prune_pass
from core.pipeline.worker import Worker
from core.services.audit import Actor
from tests.support.factories import emit_events, make_configured_tenant
from tests.support.smtp_servers import SmtpTestServer


def _emit(ctx: Context, tenant: Tenant, event: str = "QUEUE_CALL_LOST") -> int:
    with ctx.session() as session:
        [delivery_id] = emit_events(session, ctx.box, tenant, 1, event)
    return delivery_id


def _age(ctx: Context, delivery_ids: list[int], days: float) -> None:
    """Move deliveries, their events and attempts `days` into the past."""
    old = utcnow() - timedelta(days=days)
    delivery, event, attempt = (
        Delivery.__table__,  # type: ignore[attr-defined]
        EventRecord.__table__,  # type: ignore[attr-defined]
        DeliveryAttempt.__table__,  # type: ignore[attr-defined]
    )
    with ctx.engine.begin() as connection:
        connection.execute(
            update(delivery).where(delivery.c.id.in_(delivery_ids)).values(created_at=old)
        )
        event_ids = select(delivery.c.event_id).where(delivery.c.id.in_(delivery_ids))
        connection.execute(update(event).where(event.c.id.in_(event_ids)).values(created_at=old))
        connection.execute(
            update(attempt).where(attempt.c.delivery_id.in_(delivery_ids)).values(at=old)
        )


def _age_audit(ctx: Context, audit_ids: list[int], days: float) -> None:
    audit = AuditEntry.__table__  # type: ignore[attr-defined]
    with ctx.engine.begin() as connection:
        connection.execute(
            update(audit)
            .where(audit.c.id.in_(audit_ids))
            .values(at=utcnow() - timedelta(days=days))
        )


def _ids(session: Session, column: Any, where: Any = None) -> set[int]:
    statement = select(column)
    if where is not None:
        statement = statement.where(where)
    return set(session.execute(statement).scalars())


class Outbox:
    """Tenant acme sends to a real SMTP server; tenant globex has recipients but no server."""

    def __init__(self, ctx: Context, actor: Actor, srv: SmtpTestServer) -> None:
        self.ctx = ctx
        with ctx.session() as session:
            server = {"name": "test", "mail_from": "PBX <pbx@acme.org>"}
            self.acme = make_configured_tenant(
                session, ctx.box, smtp=srv, server=server, actor=actor
            )
            self.globex = make_configured_tenant(session, ctx.box, slug="globex", actor=actor)
            session.expunge_all()

    def queued(self) -> int:
        return _emit(self.ctx, self.acme)

    def suppressed(self) -> int:
        return _emit(self.ctx, self.acme, "QUEUE_SLA")  # its toggle is off

    def failed(self) -> int:
        return _emit(self.ctx, self.globex)  # no mail server: failed at emit


@pytest.fixture
def mail(ctx: Context, actor: Actor, smtp_server: SmtpTestServer) -> Outbox:
    return Outbox(ctx, actor, smtp_server)


def test_worker_once_prunes_finished_deliveries_past_retention(
    ctx: Context, mail: Outbox, smtp_server: SmtpTestServer, cli: Callable[..., Any]
) -> None:
    to_send = [mail.queued() for _ in range(3)]
    assert cli("worker", "--once").code == 0
    assert len(smtp_server.messages) == 3
    suppressed, failed = mail.suppressed(), mail.failed()
    recent = mail.queued()
    assert cli("worker", "--once").code == 0  # `recent` is sent now, and stays young
    # Owed rows, as old as the rest: one waiting for its retry, one leased by another worker.
    waiting, leased = mail.queued(), mail.queued()
    with ctx.engine.begin() as connection:
        delivery = Delivery.__table__  # type: ignore[attr-defined]
        connection.execute(
            update(delivery)
            .where(delivery.c.id == waiting)
            .values(next_attempt_at=utcnow() + timedelta(days=1))
        )
    [claimed] = outbox.claim(ctx.engine, owner="other-worker", limit=1, lease_s=3600)
    assert claimed.id == leased
    with ctx.session() as session:
        statuses = dict(session.execute(select(Delivery.id, Delivery.status)).all())
    assert [statuses[i] for i in to_send] == ["sent"] * 3
    assert (statuses[suppressed], statuses[failed]) == ("suppressed", "failed")
    assert (statuses[waiting], statuses[leased], statuses[recent]) == ("queued", "sending", "sent")
    expired = [*to_send, suppressed, failed]
    _age(ctx, [*expired, waiting, leased], days=ctx.settings.retention_days + 1)
    _age(ctx, [recent], days=ctx.settings.retention_days - 1)
    with ctx.session() as session:
        events_of = dict(session.execute(select(Delivery.id, Delivery.event_id)).all())
        assert _ids(session, DeliveryAttempt.delivery_id) >= set(to_send)
        audit_ids = sorted(_ids(session, AuditEntry.id))
    assert len(audit_ids) >= 4
    old_audit, kept_audit = audit_ids[:2], audit_ids[2:]
    _age_audit(ctx, old_audit, days=ctx.settings.audit_retention_days + 1)
    _age_audit(ctx, kept_audit[:1], days=ctx.settings.audit_retention_days - 1)

    result = cli("worker", "--once")

    assert result.code == 0, result.err
    assert "pruned 5 deliveries past retention, 2 audit entries" in result.out
    with ctx.session() as session:
        left = _ids(session, Delivery.id)
        assert left == {recent, waiting, leased}
        assert _ids(session, DeliveryContent.delivery_id) == {recent, waiting, leased}
        assert _ids(session, DeliveryAttempt.delivery_id) == {recent}
        assert _ids(session, EventRecord.id) == {events_of[i] for i in left}
        assert _ids(session, AuditEntry.id) >= set(kept_audit)
        assert not _ids(session, AuditEntry.id) & set(old_audit)
    assert cli("worker", "--once").out.count("pruned") == 0  # nothing left to prune


def test_a_pass_works_in_bounded_batches_and_stops_at_queued_rows(
    ctx: Context, mail: Outbox
) -> None:
    finished = [mail.failed() for _ in range(7)]
    queued = [mail.queued() for _ in range(2)]
    _age(ctx, [*finished, *queued], days=ctx.settings.retention_days + 30)
    batches: list[int] = []

    async def run_db(fn: Any, *args: Any) -> Any:
        counts = fn(*args)
        batches.append(counts.deliveries + counts.audit_entries)
        return counts

    counts = asyncio.run(prune_pass(run_db, ctx.engine, ctx.settings, batch_rows=3, pause_s=0))

    assert (counts.deliveries, counts.events) == (7, 7)
    assert batches[:3] == [3, 3, 1]  # deliveries: full, full, short (the pass's end)
    with ctx.session() as session:
        assert _ids(session, Delivery.id) == set(queued)
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 2


def test_an_event_stays_while_one_of_its_deliveries_is_owed(ctx: Context, mail: Outbox) -> None:
    sent = mail.queued()
    assert asyncio.run(_send_due(ctx)) == 1
    # A second delivery of the same event (as its Slack mirror would be), still queued.
    with ctx.session() as session:
        event_id = session.scalar(select(Delivery.event_id).where(Delivery.id == sent))
        twin = Delivery(
            event_id=event_id,
            tenant_id=mail.acme.id,
            event="QUEUE_CALL_LOST",
            channel="slack",
            target="C0123",
            status="queued",
            next_attempt_at=utcnow() + timedelta(hours=1),
        )
        session.add(twin)
        session.commit()
        twin_id = twin.id
    assert twin_id is not None
    _age(ctx, [sent, twin_id], days=ctx.settings.retention_days + 1)

    counts = asyncio.run(prune_pass(_direct, ctx.engine, ctx.settings))

    assert (counts.deliveries, counts.events) == (1, 0)
    with ctx.session() as session:
        assert _ids(session, Delivery.id) == {twin_id}
        assert _ids(session, EventRecord.id) == {event_id}


async def _send_due(ctx: Context) -> int:
    work = Worker(ctx)
    try:
        return (await work.run_once()).sent
    finally:
        await work.close()


async def _direct(fn: Any, *args: Any) -> Any:
    return fn(*args)


def test_concurrent_passes_delete_each_row_once_and_never_fail(
    ctx: Context, mail: Outbox, settings: Settings
) -> None:
    finished = [mail.failed() for _ in range(12)]
    _age(ctx, finished, days=ctx.settings.retention_days + 1)
    contexts = [build_context(settings) for _ in range(2)]
    totals: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def one_pass(other: Context) -> None:
        try:
            start.wait()
            counts = asyncio.run(
                prune_pass(_direct, other.engine, other.settings, batch_rows=2, pause_s=0.01)
            )
            totals.append(counts.deliveries)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one_pass, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for other in contexts:
        other.close()
    assert errors == []
    with ctx.session() as session:
        assert _ids(session, Delivery.id) == set()
    # Each row deleted once; on PostgreSQL the loser of the lock may skip its pass.
    assert sum(totals) == 12


def test_a_running_worker_prunes_on_its_own(
    ctx: Context, mail: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.pipeline import worker as worker_module

    finished = [mail.failed() for _ in range(3)]
    _age(ctx, finished, days=ctx.settings.retention_days + 1)
    monkeypatch.setattr(worker_module, "RETENTION_FIRST_S", 0.1)

    async def run_briefly() -> worker_module.WorkerStats:
        work = Worker(ctx)
        stop = asyncio.Event()
        task = asyncio.create_task(work.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if work.stats.pruned_deliveries:
                break
        stop.set()
        try:
            return await task
        finally:
            await work.close()

    stats = asyncio.run(run_briefly())

    assert stats.pruned_deliveries == 3
    with ctx.session() as session:
        assert _ids(session, Delivery.id) == set()


def test_health_state_changes_are_kept_for_the_audit_period(ctx: Context) -> None:
    from core.models.health import HealthChange

    now = utcnow()
    ages = {
        "old": ctx.settings.audit_retention_days + 1,
        "kept": ctx.settings.audit_retention_days - 1,
    }
    with ctx.session() as session:
        for reason, days in ages.items():
            session.add(
                HealthChange(
                    subject_key="mail_server:1",
                    kind="mail_server",
                    state="critical",
                    reason=reason,
                    at=now - timedelta(days=days),
                )
            )
        session.commit()

    async def run_db(fn: Any, *args: Any) -> Any:
        return fn(*args)

    counts = asyncio.run(prune_pass(run_db, ctx.engine, ctx.settings, now=now, pause_s=0))

    assert counts.health_changes == 1
    with ctx.session() as session:
        assert [c.reason for c in session.exec(select(HealthChange)).scalars()] == ["kept"]
