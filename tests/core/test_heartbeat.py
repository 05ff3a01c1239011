"""Workers announce themselves: a running `Worker.run` loop has a heartbeat row (kind, host,
pid), renewed every HEARTBEAT_S and deleted when it stops; a row unseen for STALE_AFTER_S (a
killed process) counts as gone and the next beat deletes it; `run_once` leaves no row.
`service:workers` is a warning only when no worker runs and mail waits."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.context import Context
from core.health.checks.workers import check_workers
from core.models._common import utcnow
from core.models.workers import STALE_AFTER_S, WorkerHeartbeat
from core.pipeline import worker as worker_module
from core.pipeline.worker import Worker
from core.services import workers
from core.services.audit import Actor
from core.vocabulary import HealthState, WorkerKind
from tests.support.outbox import queue_deliveries


def _rows(ctx: Context) -> list[WorkerHeartbeat]:
    with ctx.session() as session:
        return list(session.exec(select(WorkerHeartbeat)).all())


def test_a_running_loop_has_a_row_renewed_while_it_runs_and_gone_when_it_stops(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "HEARTBEAT_S", 0.02)
    seen: list[list[WorkerHeartbeat]] = []

    async def run_and_watch() -> None:
        work = Worker(ctx, kind=WorkerKind.SERVE, poll_interval_s=0.01)
        stop = asyncio.Event()
        task = asyncio.create_task(work.run(stop))
        for _ in range(500):  # until the first beat after the announcement renewed the row
            await asyncio.sleep(0.01)
            rows = _rows(ctx)
            if rows:
                seen.append(rows)
            if len(seen) > 1 and seen[-1][0].seen_at > seen[0][0].seen_at:
                break
        with ctx.session() as session:
            assert workers.delivery_running(session=session)
            assert [w.owner for w in workers.running_workers(session=session)] == [work.owner]
        stop.set()
        await task
        await work.close()

    asyncio.run(run_and_watch())
    first, last = seen[0][0], seen[-1][0]
    assert (first.kind, first.pid) == ("serve", os.getpid())
    assert last.seen_at > first.seen_at and last.started_at == first.started_at
    assert _rows(ctx) == []  # a clean exit deletes the row
    with ctx.session() as session:
        assert not workers.delivery_running(session=session)


def test_a_stale_row_counts_as_gone_and_the_next_beat_deletes_it(
    ctx: Context, session: Session
) -> None:
    now = utcnow()
    killed_at = now - timedelta(seconds=STALE_AFTER_S + 1)
    workers.announce(ctx.engine, owner="host-a:1:dead", kind=WorkerKind.WORKER, now=killed_at)
    assert [row.owner for row in _rows(ctx)] == ["host-a:1:dead"]
    assert not workers.delivery_running(session=session)
    assert workers.running_workers(session=session) == []

    # a live worker, seen just inside the window, counts; its beat prunes the dead one
    recent = now - timedelta(seconds=STALE_AFTER_S - 1)
    workers.announce(ctx.engine, owner="host-b:2:live", kind=WorkerKind.WORKER, now=recent)
    assert workers.delivery_running(session=session, now=now)
    workers.beat(ctx.engine, owner="host-b:2:live", kind=WorkerKind.WORKER, now=now)
    assert [row.owner for row in _rows(ctx)] == ["host-b:2:live"]


def test_a_beat_writes_a_lost_row_again(ctx: Context, session: Session) -> None:
    workers.beat(ctx.engine, owner="host-c:3:x", kind=WorkerKind.SERVE)
    [row] = _rows(ctx)
    assert (row.owner, row.kind) == ("host-c:3:x", "serve")
    assert workers.delivery_running(session=session)


def test_run_once_does_not_announce_itself(
    ctx: Context, session: Session, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    announced: list[str] = []
    monkeypatch.setattr(workers, "announce", lambda *a, **k: announced.append("announce"))
    queue_deliveries(ctx, session, actor, 1)

    async def once() -> None:
        work = Worker(ctx, channels={})
        try:
            await work.run_once()
        finally:
            await work.close()

    asyncio.run(once())
    assert announced == [] and _rows(ctx) == []


def test_no_worker_is_a_warning_only_while_mail_waits(
    ctx: Context, session: Session, actor: Actor
) -> None:
    idle = check_workers(ctx)
    assert (idle.key, idle.state) == ("service:workers", HealthState.OK)
    assert idle.reason == "no worker is running; nothing is queued"

    queue_deliveries(ctx, session, actor, 1)
    waiting = check_workers(ctx)
    assert waiting.state == HealthState.WARNING
    assert waiting.reason == (
        "no worker is running: queued mail is not delivered "
        "(run `mailbell serve` or `mailbell worker`)"
    )

    workers.announce(ctx.engine, owner="host-d:4:x", kind=WorkerKind.SERVE)
    running = check_workers(ctx)
    assert running.state == HealthState.OK
    assert running.reason.startswith("1 worker running: serve on ")
    assert running.detail["workers"] == 1
