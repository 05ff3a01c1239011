"""The health runner with the real mail-server and delivery checks: an SMTP server that goes
down and comes back (a blip changes nothing, an outage alerts once and recovers once), a pass
that outlasts a few timeouts is still recorded, and one process at a time holds the lease."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from core.context import Context
from core.health import runner
from core.health.runner import CHECKS, HealthWatch, acquire_lease, release_lease, run_pass
from core.health.store import history, list_health
from core.models.health import HealthSubject, ServiceLease
from core.services.audit import Actor
from core.vocabulary import HealthState
from tests.support import health_sinks
from tests.support.factories import (
    ACME_SERVER,
    emit_events,
    make_configured_tenant,
    make_mail_server,
    make_tenant,
)

recorded_notices = health_sinks.recorded_notices
OK, WARNING, CRITICAL = HealthState.OK, HealthState.WARNING, HealthState.CRITICAL
UNKNOWN = HealthState.UNKNOWN
MAIL = tuple(c for c in CHECKS if c.name == "mail_servers")
MINE = tuple(c for c in CHECKS if c.name in ("mail_servers", "deliveries"))


@pytest.fixture(autouse=True)
def only_these_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other checks (accounts, Slack, the service) are other tests' business."""
    monkeypatch.setattr(runner, "CHECKS", MINE)


def state(session: Session, key: str) -> HealthState:
    session.expire_all()
    (read,) = [r for r in list_health(session) if r.key == key]
    return read.state


async def test_a_server_that_goes_down_alerts_once_and_recovers_once_a_blip_changes_nothing(
    ctx: Context, session: Session, smtp_servers, recorded_notices
) -> None:
    sink = smtp_servers(mode="starttls", auth=True)
    acme = make_tenant(session)
    server = make_mail_server(session, ctx.box, acme, smtp=sink, name="Main")
    key = f"mail_server:{server.id}"
    seen: list[HealthState] = []
    # up, up | down (blip), up | down, down, down | up, up
    for up in (True, True, False, True, False, False, False, True, True):
        sink.start() if up else sink.stop()
        await run_pass(ctx, MAIL)
        seen.append(state(session, key))
    assert seen == [UNKNOWN, OK, OK, OK, OK, CRITICAL, CRITICAL, CRITICAL, OK]
    assert [(n.notice, n.state, n.previous) for n in recorded_notices] == [
        ("alert", CRITICAL, OK),
        ("recovery", OK, CRITICAL),
    ]
    alert = recorded_notices[0]
    assert (alert.key, alert.tenant_id, alert.subject) == (key, acme.id, "Main")
    assert alert.reason.startswith("connect failed: connection refused by 127.0.0.1:")
    assert "Nothing accepts connections on this port" in alert.reason
    assert alert.detail["server_id"] == server.id
    assert "mailbell server test" in alert.detail["action"]
    assert [c.state for c in reversed(history(session, key))] == [OK, CRITICAL, OK]
    assert sink.messages == []


async def test_check_now_for_a_tenant_records_only_its_subjects(
    ctx: Context, session: Session, actor: Actor, smtp_servers, recorded_notices
) -> None:
    sink = smtp_servers()
    make_mail_server(session, ctx.box, None, smtp=sink, name="System")
    acme = make_configured_tenant(session, ctx.box, smtp=sink, server={"name": "Main"})
    emit_events(session, ctx.box, acme, 1)
    for _ in range(2):
        reads = await runner.run_checks(ctx, tenant=acme)
    assert {(r.kind, r.subject, r.state, r.tenant) for r in reads} == {
        ("mail_server", "Main", OK, "acme"),
        ("backlog", "queue", OK, "acme"),
    }
    assert [r.tenant for r in list_health(session)] == ["acme", "acme"]  # no system subject
    assert [n.notice for n in recorded_notices] == []


async def test_a_pass_longer_than_a_few_timeouts_is_recorded_and_the_rest_reported_unchecked(
    ctx: Context, session: Session, smtp_servers, recorded_notices
) -> None:
    # 12 silent servers one at a time, 0.2 s each: 2.4 s of probes, more than 4 timeouts
    # (which once cut the whole pass off: nothing recorded) and more than the interval allows.
    ctx.settings = ctx.settings.model_copy(
        update={"health_check_timeout_s": 0.2, "health_concurrency": 1, "health_interval_s": 2.0}
    )
    silent = smtp_servers(mode="silent")
    for n in range(12):
        make_mail_server(session, ctx.box, make_tenant(session, slug=f"t{n}"), smtp=silent)
    await run_pass(ctx, MAIL)
    session.expire_all()
    rows = session.exec(select(HealthSubject)).all()
    assert len(rows) == 12
    candidates = [row.candidate_state for row in rows]
    assert CRITICAL in candidates and UNKNOWN not in candidates  # unknown is the state already
    unchecked = [row for row in rows if row.candidate_state is None]
    assert unchecked and all(
        row.reason.startswith("not checked: the pass ran out of time") for row in unchecked
    )


async def test_one_process_at_a_time_runs_the_checks(
    ctx: Context, session: Session, actor: Actor, recorded_notices
) -> None:
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    emit_events(session, ctx.box, acme, 1)
    first, second = HealthWatch(ctx, owner="node-a"), HealthWatch(ctx, owner="node-b")
    await first.tick(lease_s=600)
    await second.tick(lease_s=600)
    assert (first.passes, second.passes) == (1, 0)
    release_lease(ctx, owner="node-a")  # node-a stops cleanly
    await second.tick(lease_s=600)
    await first.tick(lease_s=600)
    assert (first.passes, second.passes) == (1, 1)
    # a lease that ran out (its holder died) is taken over
    assert acquire_lease(ctx, owner="node-b", lease_s=-1)
    assert acquire_lease(ctx, owner="node-a", lease_s=600)
    assert not acquire_lease(ctx, owner="node-b", lease_s=600)


async def test_two_watches_running_together_only_one_checks(
    ctx: Context, session: Session, actor: Actor, recorded_notices
) -> None:
    acme = make_configured_tenant(session, ctx.box, server=ACME_SERVER)
    emit_events(session, ctx.box, acme, 1)
    stop = asyncio.Event()
    watches = [HealthWatch(ctx, owner=f"node-{n}", tick_s=0.01) for n in range(2)]
    tasks = [asyncio.create_task(w.run(stop)) for w in watches]
    key = f"backlog:tenant:{acme.id}"
    for _ in range(500):  # until one of them recorded its checks
        session.expire_all()
        if any(r.key == key for r in list_health(session)):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # a few more ticks of both
    stop.set()
    await asyncio.gather(*tasks)
    assert sorted(w.passes for w in watches) == [0, 1]  # the holder: one pass (not due again)
    assert state(session, key) == UNKNOWN  # one result so far
    lease = session.get(ServiceLease, runner.LEASE_NAME)
    session.refresh(lease)
    assert lease is not None and lease.owner is None  # released on the way out


async def test_a_slow_mail_pass_does_not_hold_back_the_fast_checks(
    ctx: Context,
    session: Session,
    actor: Actor,
    smtp_servers,
    recorded_notices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "FAST_INTERVAL_S", 0.05)
    monkeypatch.setattr(runner, "FIRST_PROBE_DELAY_S", 0.0)
    silent = smtp_servers(mode="silent")  # its probe waits for a greeting until cancelled
    acme = make_configured_tenant(session, ctx.box, smtp=silent, server={"name": "Main"})
    emit_events(session, ctx.box, acme, 1)
    backlog = f"backlog:tenant:{acme.id}"
    stop = asyncio.Event()
    watch = HealthWatch(ctx, owner="node-a", tick_s=0.01)
    task = asyncio.create_task(watch.run(stop))
    reads: dict[str, object] = {}
    for _ in range(500):  # until the delivery check ran twice (its state is made)
        session.expire_all()
        reads = {r.key: r.state for r in list_health(session)}
        if reads.get(backlog) == OK:
            break
        await asyncio.sleep(0.01)
    mail_still_running = "mail_servers" in watch._running
    stop.set()
    await task
    assert reads.get(backlog) == OK
    assert mail_still_running and not any(k.startswith("mail_server:") for k in reads)
    assert watch._running == {}  # the unfinished pass was cancelled on the way out


def test_the_probes_wait_a_minute_after_start_the_database_checks_do_not(ctx: Context) -> None:
    watch = HealthWatch(ctx, owner="node-a")
    fast = {check.name for check in runner.CHECKS if check.fast}
    assert {check.name for check in watch.due(1000.0)} == fast
    assert {check.name for check in watch.due(1000.0 + runner.FIRST_PROBE_DELAY_S - 1)} == fast
    assert {check.name for check in watch.due(1000.0 + runner.FIRST_PROBE_DELAY_S)} == {
        check.name for check in runner.CHECKS
    }
