"""Retention: finished deliveries (with their messages and attempts) and old audit entries go.

Deliveries in a final state (`sent`, `partial`, `suppressed`, `failed`, `held`) and created
more than `Settings.retention_days` ago are deleted with their `delivery_content` and
`delivery_attempt` rows; an event goes with its last delivery. A held delivery goes with its
digest (not before it: the digest's log lists it), and a digest takes its held deliveries
along; burst rows quiet since the cutoff go too. `queued` and `sending` rows are never touched,
whatever their age. Audit entries and health state changes older than
`Settings.audit_retention_days` go the same way.

Work is cut into batches of `BATCH_ROWS` rows, one short transaction each, so a pass never
holds the write lock long enough to stall emits or claims (SQLite has one writer). On
PostgreSQL each batch first takes a transaction-scoped advisory lock without waiting: when
another worker holds it, that worker is pruning and this one skips the pass. Concurrent batches
would be harmless anyway (a row deleted twice is deleted once), only wasted work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, text
from sqlalchemy.engine import Connection, Engine

from core.config import Settings
from core.models._common import utcnow
from core.models.audit import AuditEntry
from core.models.delivery import (
    Delivery,
    DeliveryAttempt,
    DeliveryContent,
    DigestBurst,
    EventRecord,
)
from core.models.health import HealthChange
from core.vocabulary import FINAL_STATUSES

# Final states only: a queued or sending delivery is still owed to someone.
PRUNABLE_STATUSES = FINAL_STATUSES
BATCH_ROWS = 500
# Between batches: room for the emits and claims waiting on the write lock.
BATCH_PAUSE_S = 0.05
# Any constant works as long as no other advisory lock of this database uses it ("mbretain").
ADVISORY_LOCK_KEY = 0x6D6272657461696E

log = logging.getLogger(__name__)

DELIVERY: Any = Delivery.__table__  # type: ignore[attr-defined]
CONTENT: Any = DeliveryContent.__table__  # type: ignore[attr-defined]
ATTEMPT: Any = DeliveryAttempt.__table__  # type: ignore[attr-defined]
EVENT: Any = EventRecord.__table__  # type: ignore[attr-defined]
BURST: Any = DigestBurst.__table__  # type: ignore[attr-defined]
AUDIT: Any = AuditEntry.__table__  # type: ignore[attr-defined]
HEALTH_CHANGE: Any = HealthChange.__table__  # type: ignore[attr-defined]


@dataclass
class PruneCounts:
    """What one batch (or a whole pass, summed) deleted; `busy`: another process was pruning."""

    deliveries: int = 0
    events: int = 0
    audit_entries: int = 0
    health_changes: int = 0
    busy: bool = False
    # The batch was full: more rows may be waiting.
    full: bool = False

    def add(self, other: PruneCounts) -> None:
        self.deliveries += other.deliveries
        self.events += other.events
        self.audit_entries += other.audit_entries
        self.health_changes += other.health_changes
        self.busy = self.busy or other.busy


def _lock_or_busy(connection: Connection) -> bool:
    """True when this transaction may prune (always on SQLite, whose write lock serialises)."""
    if connection.dialect.name != "postgresql":
        return True
    taken = connection.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
    ).scalar()
    return bool(taken)


def _delete_events_left_empty(connection: Connection, event_ids: Sequence[int]) -> int:
    """Events among `event_ids` that have no delivery left. `delivery.event_id` has no index,
    so the remaining ones are found with one scan limited to this batch's events."""
    if not event_ids:
        return 0
    still_used = set(
        connection.execute(
            select(DELIVERY.c.event_id).where(DELIVERY.c.event_id.in_(event_ids)).distinct()
        ).scalars()
    )
    empty = [event_id for event_id in event_ids if event_id not in still_used]
    if not empty:
        return 0
    result = connection.execute(delete(EVENT).where(EVENT.c.id.in_(empty)))
    return int(result.rowcount or 0)


def prune_deliveries_batch(
    engine: Engine, cutoff: datetime, batch_rows: int = BATCH_ROWS
) -> PruneCounts:
    """Delete up to `batch_rows` finished deliveries created before `cutoff`, in one transaction."""
    counts = PruneCounts()
    with engine.begin() as connection:
        if not _lock_or_busy(connection):
            counts.busy = True
            return counts
        digest = DELIVERY.alias("digest")
        rows = connection.execute(
            select(DELIVERY.c.id, DELIVERY.c.event_id, DELIVERY.c.is_digest)
            .where(
                DELIVERY.c.status.in_(PRUNABLE_STATUSES),
                DELIVERY.c.created_at < cutoff,
                # A held delivery goes with its digest (below), or alone once that is gone.
                ~exists().where(digest.c.id == DELIVERY.c.digest_id),
            )
            .order_by(DELIVERY.c.id)
            .limit(batch_rows)
            # PostgreSQL: the rows stay finished until the batch commits (a retry by hand waits;
            # rows another transaction holds are left for the next pass). SQLite's write lock
            # does the same for the whole batch.
            .with_for_update(skip_locked=True)
        ).all()
        rows = list(rows)
        # Bursts quiet since the cutoff: their next event starts afresh without them.
        connection.execute(
            delete(BURST).where(BURST.c.closes_at < cutoff, BURST.c.digest_id.is_(None))
        )
        if not rows:
            return counts
        counts.full = len(rows) == batch_rows
        rows += _held_by(connection, [row.id for row in rows if row.is_digest])
        ids = [row.id for row in rows]
        # Children first and explicitly: the cascades need SQLite's foreign_keys pragma, and
        # this keeps the batch correct on a connection opened without it.
        connection.execute(delete(ATTEMPT).where(ATTEMPT.c.delivery_id.in_(ids)))
        connection.execute(delete(CONTENT).where(CONTENT.c.delivery_id.in_(ids)))
        # Re-checks the status: a row retried by hand since the SELECT stays.
        result = connection.execute(
            delete(DELIVERY).where(DELIVERY.c.id.in_(ids), DELIVERY.c.status.in_(PRUNABLE_STATUSES))
        )
        counts.deliveries = int(result.rowcount or 0)
        event_ids = sorted({row.event_id for row in rows})
        counts.events = _delete_events_left_empty(connection, event_ids)
    return counts


def _held_by(connection: Connection, digest_ids: Sequence[int]) -> list[Any]:
    """The deliveries held into these digests: pruned with them, whatever their age (a digest
    is as old as its first held event), so the log never shows one without the other."""
    if not digest_ids:
        return []
    return list(
        connection.execute(
            select(DELIVERY.c.id, DELIVERY.c.event_id, DELIVERY.c.is_digest).where(
                DELIVERY.c.digest_id.in_(digest_ids)
            )
        )
    )


def _prune_oldest(
    engine: Engine, table: Any, cutoff: datetime, batch_rows: int
) -> tuple[int, bool]:
    """Delete up to `batch_rows` rows of `table` stamped (`at`) before `cutoff`, in one
    transaction; returns (deleted, busy)."""
    with engine.begin() as connection:
        if not _lock_or_busy(connection):
            return 0, True
        oldest = (
            select(table.c.id)
            .where(table.c.at < cutoff)
            .order_by(table.c.id)
            .limit(batch_rows)
            .scalar_subquery()
        )
        result = connection.execute(delete(table).where(table.c.id.in_(oldest)))
        return int(result.rowcount or 0), False


def prune_audit_batch(
    engine: Engine, cutoff: datetime, batch_rows: int = BATCH_ROWS
) -> PruneCounts:
    """Delete up to `batch_rows` audit entries recorded before `cutoff`, in one transaction."""
    deleted, busy = _prune_oldest(engine, AUDIT, cutoff, batch_rows)
    return PruneCounts(audit_entries=deleted, busy=busy, full=deleted == batch_rows)


def prune_health_batch(
    engine: Engine, cutoff: datetime, batch_rows: int = BATCH_ROWS
) -> PruneCounts:
    """Delete up to `batch_rows` health state changes older than `cutoff` (the audit period)."""
    deleted, busy = _prune_oldest(engine, HEALTH_CHANGE, cutoff, batch_rows)
    return PruneCounts(health_changes=deleted, busy=busy, full=deleted == batch_rows)


RunDb = Callable[..., Awaitable[Any]]


async def prune_pass(
    run_db: RunDb,
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch_rows: int = BATCH_ROWS,
    pause_s: float = BATCH_PAUSE_S,
) -> PruneCounts:
    """One whole pass: delivery batches, then audit batches, each batch through `run_db`
    (the worker's database thread) with a pause between them, until a batch comes back short.

    Stops early when another process holds the PostgreSQL lock (it is doing the same pass)."""
    now = now or utcnow()
    jobs = (
        (prune_deliveries_batch, now - timedelta(days=settings.retention_days)),
        (prune_audit_batch, now - timedelta(days=settings.audit_retention_days)),
        (prune_health_batch, now - timedelta(days=settings.audit_retention_days)),
    )
    total = PruneCounts()
    for batch, cutoff in jobs:
        while True:
            counts: PruneCounts = await run_db(batch, engine, cutoff, batch_rows)
            total.add(counts)
            if counts.busy or not counts.full:
                break
            await asyncio.sleep(pause_s)
        if total.busy:
            break
    if total.deliveries or total.audit_entries or total.health_changes:
        log.info(
            "retention: pruned %d deliveries, %d events, %d audit entries, %d health changes",
            total.deliveries,
            total.events,
            total.audit_entries,
            total.health_changes,
        )
    return total
