"""Which delivery workers run against this database (their heartbeat rows,
core/models/workers.py), and the worker's side: announce, beat, leave.

    running_workers(session=s)      # [WorkerRead, …] seen within STALE_AFTER_S
    delivery_running(session=s)     # one indexed query: is any worker running?

A `Worker.run_once` (tests, the TUI's W key) does not announce itself: it ends at once.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.models._common import utcnow
from core.models.workers import STALE_AFTER_S, WorkerHeartbeat, WorkerRead
from core.vocabulary import WorkerKind

# What every front end says when no worker runs (TUI, `service:workers`).
NO_WORKER = "no worker is running: queued mail is not delivered"
NO_WORKER_ACTION = "run `mailbell serve` or `mailbell worker`"


def _fresh_since(now: datetime) -> datetime:
    return now - timedelta(seconds=STALE_AFTER_S)


def running_workers(*, session: Session, now: datetime | None = None) -> list[WorkerRead]:
    """The workers seen within STALE_AFTER_S, oldest first."""
    rows = session.exec(
        select(WorkerHeartbeat)
        .where(col(WorkerHeartbeat.seen_at) >= _fresh_since(now or utcnow()))
        .order_by(col(WorkerHeartbeat.started_at), col(WorkerHeartbeat.owner))
    ).all()
    return [WorkerRead.model_validate(row, from_attributes=True) for row in rows]


def delivery_running(*, session: Session, now: datetime | None = None) -> bool:
    """True when a worker was seen within STALE_AFTER_S (the seen_at index, one row at most)."""
    found = session.exec(
        select(WorkerHeartbeat.owner)
        .where(col(WorkerHeartbeat.seen_at) >= _fresh_since(now or utcnow()))
        .limit(1)
    ).first()
    return found is not None


def describe(workers: list[WorkerRead]) -> str:
    """ "2 workers running: serve on host-a (pid 12), worker on host-b (pid 40)"."""
    each = ", ".join(f"{w.kind} on {w.host} (pid {w.pid})" for w in workers)
    noun = "worker" if len(workers) == 1 else "workers"
    return f"{len(workers)} {noun} running: {each}"


# -- the worker's side (blocking: the worker calls these on its database thread) -------------


def announce(engine: Engine, *, owner: str, kind: WorkerKind, now: datetime | None = None) -> None:
    """Write this worker's row (again, after a database outage lost it)."""
    now = now or utcnow()
    with Session(engine) as session:
        row = session.get(WorkerHeartbeat, owner)
        if row is None:
            row = WorkerHeartbeat(
                owner=owner,
                host=socket.gethostname()[:200],
                pid=os.getpid(),
                kind=kind.value,
                started_at=now,
                seen_at=now,
            )
        row.seen_at = now
        session.add(row)
        session.commit()


def beat(engine: Engine, *, owner: str, kind: WorkerKind, now: datetime | None = None) -> None:
    """One UPDATE of this worker's `seen_at`; the row is written again if it went missing.

    Rows of killed workers (unseen for STALE_AFTER_S) are deleted here too, so the table holds
    only the living and the recently dead."""
    now = now or utcnow()
    with Session(engine) as session:
        result = session.execute(
            update(WorkerHeartbeat).where(col(WorkerHeartbeat.owner) == owner).values(seen_at=now)
        )
        session.execute(
            delete(WorkerHeartbeat).where(col(WorkerHeartbeat.seen_at) < _fresh_since(now))
        )
        session.commit()
    if not getattr(result, "rowcount", 1):
        announce(engine, owner=owner, kind=kind, now=now)


def leave(engine: Engine, *, owner: str) -> None:
    """A clean exit: the row goes at once."""
    with Session(engine) as session:
        session.execute(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.owner) == owner))
        session.commit()
