"""Delivery signals: permanent failures in a row per server (through the real worker and a
refusing SMTP server) and each owner's queue (deliveries made by emit, aged in the table)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from core.context import Context
from core.health.checks import deliveries
from core.health.runner import CHECKS, CheckScope, run_pass
from core.health.store import CheckResult, list_health
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.pipeline.worker import Worker
from core.services.audit import Actor
from core.vocabulary import DeliveryStatus, HealthKind, HealthState
from tests.support import health_sinks
from tests.support.factories import ACME_SERVER, emit_events, make_configured_tenant
from tests.support.smtp_servers import FaultHandler

recorded_notices = health_sinks.recorded_notices
OK, WARNING, CRITICAL = HealthState.OK, HealthState.WARNING, HealthState.CRITICAL
DELIVERIES = tuple(c for c in CHECKS if c.name == "deliveries")


async def found(ctx: Context, scope: CheckScope | None = None) -> dict[str, CheckResult]:
    return {r.key: r for r in await deliveries.check(ctx, scope or CheckScope())}


def age(session: Session, ids: list[int], minutes: float, *, last_error: str | None = None) -> None:
    """Make deliveries `ids` `minutes` old (still queued), with `last_error` when given."""
    values: dict[str, object] = {"created_at": utcnow() - timedelta(minutes=minutes)}
    if last_error is not None:
        values["last_error"] = last_error
    session.execute(update(Delivery).where(col(Delivery.id).in_(ids)).values(**values))
    session.commit()


async def test_failures_in_a_row_warn_at_3_go_critical_at_10_and_clear_after_a_send(
    ctx: Context, session: Session, actor: Actor, smtp_servers, recorded_notices
) -> None:
    sink = smtp_servers(handler=FaultHandler(mail="550 5.7.1 relaying denied", times=10))
    acme = make_configured_tenant(session, ctx.box, smtp=sink, server={"name": "Main"})
    worker = Worker(ctx)
    claimed = 0
    try:
        for count, expected in ((2, OK), (1, WARNING), (6, WARNING), (1, CRITICAL), (1, OK)):
            emit_events(session, ctx.box, acme, count)
            claimed += count
            assert (await worker.run_once()).claimed == claimed
            for _ in range(2):  # two agreeing results make the state
                await run_pass(ctx, DELIVERIES)
            session.expire_all()
            (read,) = [r for r in list_health(session) if r.key.startswith("deliveries:")]
            assert read.state == expected, read.reason
    finally:
        await worker.close()
    assert (read.subject, read.kind, read.tenant) == ("Main deliveries", "mail_server", "acme")
    assert read.detail["action"] == "none" and read.reason == "deliveries go out"
    assert [n.notice for n in recorded_notices] == ["alert", "alert", "recovery"]
    assert [n.state for n in recorded_notices] == [WARNING, CRITICAL, OK]
    assert len(sink.messages) == 1  # the 11th went out
    # the failures before that send are history: a server with no streak needs no new subject
    results = await found(ctx)
    assert results[read.key].state == OK


async def test_the_streak_reason_names_the_count_and_the_last_error(
    ctx: Context, session: Session, actor: Actor, smtp_servers
) -> None:
    sink = smtp_servers(handler=FaultHandler(mail="550 5.7.1 relaying denied"))
    acme = make_configured_tenant(session, ctx.box, smtp=sink, server={"name": "Main"})
    emit_events(session, ctx.box, acme, 3)
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()
    (result,) = [r for k, r in (await found(ctx)).items() if k.startswith("deliveries:")]
    assert result.state == WARNING
    assert result.reason.startswith("3 deliveries in a row failed for good; last error:")
    assert "550 5.7.1 relaying denied" in result.reason
    assert "mailbell deliveries list --status failed" in result.detail["action"]
    # another tenant's "check now" does not see acme's server
    other = make_configured_tenant(session, ctx.box, slug="globex", server=ACME_SERVER)
    assert await found(ctx, CheckScope(tenant_id=other.id)) == {}


async def test_failures_older_than_the_window_or_before_a_send_do_not_count(
    ctx: Context, session: Session, actor: Actor
) -> None:
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    ids = emit_events(session, ctx.box, acme, 6)
    now = utcnow()

    def final(delivery_ids: list[int], status: DeliveryStatus, at: timedelta) -> None:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id).in_(delivery_ids))
            .values(status=status, next_attempt_at=now - at, last_error="[mail] refused")
        )

    final(ids[:3], DeliveryStatus.FAILED, timedelta(hours=30))  # outside the window
    final(ids[3:5], DeliveryStatus.FAILED, timedelta(minutes=20))  # before the send
    final(ids[5:], DeliveryStatus.SENT, timedelta(minutes=10))
    session.commit()
    # no streak and no subject yet: nothing to report about the server
    assert [k for k in await found(ctx) if k.startswith("deliveries:")] == []
    final(ids[:3], DeliveryStatus.FAILED, timedelta(minutes=5))  # after the send: a streak
    session.commit()
    (streak,) = [r for k, r in (await found(ctx)).items() if k.startswith("deliveries:")]
    assert streak.state == WARNING and streak.reason.startswith("3 deliveries in a row")


async def test_queued_mail_warns_after_the_backlog_time_and_is_critical_after_three_times(
    ctx: Context, session: Session, actor: Actor
) -> None:
    backlog_min = ctx.settings.health_backlog_s / 60
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    ids = emit_events(session, ctx.box, acme, 3)
    key = f"backlog:tenant:{acme.id}"
    result = (await found(ctx))[key]
    assert (result.state, result.subject, result.kind) == (OK, "queue", HealthKind.BACKLOG)
    age(session, ids[:2], backlog_min + 1)
    result = (await found(ctx))[key]
    assert result.state == WARNING
    assert result.reason.startswith("2 deliveries waiting for more than 10 min (oldest 11 min")
    assert "mailbell worker" in result.detail["action"]
    age(session, ids[:1], backlog_min * 3 + 1)
    assert (await found(ctx))[key].state == CRITICAL


async def test_retried_failures_older_than_15_minutes_warn(
    ctx: Context, session: Session, actor: Actor
) -> None:
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    ids = emit_events(session, ctx.box, acme, 2)
    key = f"backlog:tenant:{acme.id}"
    age(session, ids, 14, last_error="[connect] connection refused")
    assert (await found(ctx))[key].state == OK  # failing, but not for 15 minutes yet
    age(session, ids[:1], 16, last_error="[connect] connection refused")
    result = (await found(ctx))[key]
    assert result.state == WARNING
    assert result.reason.startswith("1 deliveries failing and retried for more than 15 min")
    # a waiting delivery is judged by the backlog time, however long retried ones wait
    age(session, ids[1:], 60 * 5, last_error="[connect] connection refused")
    assert (await found(ctx))[key].state == WARNING


async def test_each_owner_has_its_own_queue_and_an_idle_owner_needs_no_subject(
    ctx: Context, session: Session, actor: Actor, recorded_notices
) -> None:
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    globex = make_configured_tenant(session, ctx.box, slug="globex", server=ACME_SERVER)
    system_ids = _queue_system_mail(ctx, session)
    acme_ids = emit_events(session, ctx.box, acme, 1)
    results = await found(ctx)
    assert set(results) == {f"backlog:tenant:{acme.id}", "backlog:system"}  # globex: idle
    assert results["backlog:system"].tenant_id is None
    age(session, system_ids, 60 * 10)
    results = await found(ctx)
    assert results["backlog:system"].state == CRITICAL
    assert results[f"backlog:tenant:{acme.id}"].state == OK
    assert set(await found(ctx, CheckScope(tenant_id=globex.id))) == set()
    assert set(await found(ctx, CheckScope(system=True))) == {"backlog:system"}

    # Through the runner: two passes make the states; once the queue drains the subjects stay
    # and recover (their owners are no longer queued: nothing queued is ok).
    for _ in range(2):
        await run_pass(ctx, DELIVERIES)
    states = {r.key: r.state for r in list_health(session)}
    assert states == {"backlog:system": CRITICAL, f"backlog:tenant:{acme.id}": OK}
    assert [(n.notice, n.key) for n in recorded_notices] == [("alert", "backlog:system")]
    session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(system_ids + acme_ids))
        .values(status=DeliveryStatus.SENT)
    )
    session.commit()
    for _ in range(2):
        await run_pass(ctx, DELIVERIES)
    session.expire_all()
    reads = {r.key: r for r in list_health(session)}
    assert {k: r.state for k, r in reads.items()} == {
        "backlog:system": OK,
        f"backlog:tenant:{acme.id}": OK,
    }
    assert reads["backlog:system"].reason == "nothing queued"
    assert [n.notice for n in recorded_notices] == ["alert", "recovery"]


def _queue_system_mail(ctx: Context, session: Session) -> list[int]:
    """One queued system delivery (a system event, the system's server and recipients)."""
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings
    from tests.support.factories import TESTER, make_mail_server

    make_mail_server(session, ctx.box, None, name="System")
    changes = NotificationSettingsUpdate.parse({"recipients": "root@sys.org"}, system=True)
    update_notification_settings(
        session=session, box=ctx.box, tenant=None, changes=changes, actor=TESTER
    )
    return emit_events(session, ctx.box, None, 1, event="TRUNK_DISCONNECTED")
