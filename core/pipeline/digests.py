"""Digests, the emit side: which deliveries of a burst go one by one and which are held.

Each (owner, event, channel, target) is a burst with one `digest_burst` row: the window open
now, how many of its events went one by one, and the digest delivery collecting the rest. At
time t, for a queued delivery of a channel whose renderer digests, under a policy (N, W):
- no row: a window [t, t+W) opens and the delivery goes out (a single);
- inside the window: a single while fewer than N went and nothing was held in it; else held;
- past the window: when the last window held events and t is within W of its end, the burst
  goes on: a new window opens at t and holds at once; otherwise (a quiet window) it starts over.
A held delivery is written `held`, keeps its message (for a resend) and names its digest: a
delivery of its own, queued for the window's end and rendered by the worker when it claims it
(core/pipeline/digest_close.py).

Exactness rests on the burst row's lock, taken in emit's transaction after its first write:
PostgreSQL locks the row (`FOR UPDATE`, inserted first when missing); SQLite's single writer
holds the database from emit's first INSERT on, so what is read here is current. The worker
detaches a digest from its burst under the same lock before reading the held rows, so none
attaches to a digest after it was rendered. A digest left behind when a window is replaced
before the worker closed it keeps its window in a row of its own (`KEY@DIGEST`), which the
worker reads and deletes when it closes the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from core.channels.registry import renderer
from core.digest_policy import DigestPolicy
from core.models.delivery import DigestBurst
from core.pipeline.outbox import DELIVERY, DeliveryRow, delivery_values, insert_returning_ids
from core.vocabulary import DeliveryStatus

if TYPE_CHECKING:
    from core.pipeline.emit_write import PreparedEmit

BURST: Any = DigestBurst.__table__  # type: ignore[attr-defined]
RETIRED_MARK = "@"  # `KEY@DIGEST`: the window of a digest its burst no longer points at


@lru_cache(maxsize=4096)
def burst_key(tenant_id: int | None, event: str, channel: str, target: str) -> str:
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    return f"{tenant_id or 0}|{event}|{channel}|{digest}"


@dataclass(slots=True)
class NewDigest:
    """A digest delivery this batch creates; `id` once inserted."""

    batch_index: int
    values: dict[str, Any]
    id: int | None = None


Digest = int | NewDigest


@dataclass(slots=True)
class _State:
    key: str
    tenant_id: int | None
    event: str
    channel: str
    absent: bool = True  # no row before this transaction: the burst starts now
    opened_at: datetime | None = None
    closes_at: datetime | None = None
    singles: int = 0
    digest: Digest | None = None
    held_last_window: bool = False
    retired: list[tuple[Digest, datetime, datetime]] = field(default_factory=list)
    before: tuple[Any, ...] = ()

    def snapshot(self) -> tuple[Any, ...]:
        return (self.opened_at, self.closes_at, self.singles, self.digest, self.held_last_window)

    def load(self, row: Any) -> None:
        self.absent = False
        self.opened_at, self.closes_at = row.opened_at, row.closes_at
        self.singles, self.digest = row.singles, row.digest_id
        self.held_last_window = bool(row.held_last_window)
        self.before = self.snapshot()

    def _open(self, t: datetime, window: timedelta) -> None:
        if self.digest is not None:  # its worker has not closed it yet: keep its window
            assert self.opened_at is not None and self.closes_at is not None
            self.retired.append((self.digest, self.opened_at, self.closes_at))
            self.digest = None
        self.opened_at, self.closes_at = t, t + window

    def hold(self, t: datetime, policy: DigestPolicy) -> bool:
        """Whether the event at `t` is held (else it goes out on its own)."""
        window = timedelta(seconds=policy.window_s)
        if not self.absent:
            assert self.closes_at is not None
            if t < self.closes_at:
                alone = self.digest is None and not self.held_last_window
                if alone and self.singles < policy.after:
                    self.singles += 1
                    return False
                return True
            if (self.digest is not None or self.held_last_window) and t < self.closes_at + window:
                self._open(t, window)  # the burst goes on: this window holds from its start
                self.singles, self.held_last_window = 0, True
                return True
        self.absent = False
        self._open(t, window)
        self.held_last_window = False
        self.singles = min(1, policy.after)
        return policy.after == 0


@dataclass(frozen=True, slots=True)
class Holds:
    """What `hold_bursts` decided for a batch: each held row's digest id, keyed (event's
    index in the batch, row's index), and the digests it created (event's index, values)."""

    digest_of: dict[tuple[int, int], int]
    created: list[tuple[int, dict[str, Any]]]


def _digest_values(
    row: DeliveryRow, prepared: PreparedEmit, event_id: int, now: datetime, due: datetime
) -> dict[str, Any]:
    values = delivery_values(
        row,
        event=prepared.spec.name,
        event_id=event_id,
        tenant_id=prepared.tenant.id if prepared.tenant else None,
        now=now,
    )
    # Rendered when its window closes: no message, Message-ID or error of the held row's.
    values.update(
        status=str(DeliveryStatus.QUEUED),
        pending=list(row.pending),
        last_error=None,
        message_id=None,
        next_attempt_at=due,
        is_digest=True,
        digest_id=None,
    )
    return values


def _insert_missing(connection: Connection, states: dict[str, _State], now: datetime) -> set[str]:
    """Insert placeholder rows for bursts not found (our lock on them); returns the keys this
    transaction inserted. Another transaction may have inserted some meanwhile: those are left
    to be locked and read."""
    make = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    rows = [
        {
            "burst_key": state.key,
            "tenant_id": state.tenant_id,
            "event": state.event,
            "channel": state.channel,
            "opened_at": now,
            "closes_at": now,
            "singles": 0,
            "digest_id": None,
            "held_last_window": False,
        }
        for state in sorted(states.values(), key=lambda s: s.key)
    ]
    statement = make(BURST).values(rows).on_conflict_do_nothing(index_elements=["burst_key"])
    return set(connection.execute(statement.returning(BURST.c.burst_key)).scalars())


# Built once: building it per emit cost more than running it. Sorted: two transactions that
# lock the same bursts take them in the same order.
_LOCK = (
    select(BURST)
    .where(BURST.c.burst_key.in_(bindparam("keys", expanding=True)))
    .order_by(BURST.c.burst_key)
    .with_for_update()
)
# One burst (an event's one target): without the expanding IN, whose per-call processing cost
# a third of the lock.
_LOCK_ONE = select(BURST).where(BURST.c.burst_key == bindparam("key")).with_for_update()


def _lock(connection: Connection, keys: Sequence[str]) -> list[Any]:
    if len(keys) == 1:
        return list(connection.execute(_LOCK_ONE, {"key": keys[0]}))
    return list(connection.execute(_LOCK, {"keys": list(keys)}))


def _load(connection: Connection, states: dict[str, _State], now: datetime) -> None:
    for row in _lock(connection, list(states)):
        states[row.burst_key].load(row)
    missing = {key: state for key, state in states.items() if state.absent}
    if not missing:
        return
    inserted = _insert_missing(connection, missing, now)
    raced = [key for key in missing if key not in inserted]
    if raced:  # inserted by a transaction that committed meanwhile: read them under the lock
        for row in _lock(connection, raced):
            states[row.burst_key].load(row)


_UPDATE = (
    update(BURST)
    .where(BURST.c.burst_key == bindparam("k"))
    .values(
        opened_at=bindparam("opened_at"),
        closes_at=bindparam("closes_at"),
        singles=bindparam("singles"),
        digest_id=bindparam("digest_id"),
        held_last_window=bindparam("held_last_window"),
    )
)


def _digest_id(digest: Digest | None) -> int | None:
    if isinstance(digest, NewDigest):
        assert digest.id is not None
        return digest.id
    return digest


def _write(connection: Connection, states: dict[str, _State]) -> None:
    changed = [state for state in states.values() if state.snapshot() != state.before]
    if changed:
        connection.execute(
            _UPDATE,
            [
                {
                    "k": state.key,
                    "opened_at": state.opened_at,
                    "closes_at": state.closes_at,
                    "singles": state.singles,
                    "digest_id": _digest_id(state.digest),
                    "held_last_window": state.held_last_window,
                }
                for state in changed
            ],
        )
    retired = [
        {
            "burst_key": f"{state.key}{RETIRED_MARK}{_digest_id(digest)}",
            "tenant_id": state.tenant_id,
            "event": state.event,
            "channel": state.channel,
            "opened_at": opened,
            "closes_at": closes,
            "singles": 0,
            "digest_id": _digest_id(digest),
            "held_last_window": True,
        }
        for state in states.values()
        for digest, opened, closes in state.retired
    ]
    if retired:
        make = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            make(BURST).on_conflict_do_nothing(index_elements=["burst_key"]), retired
        )


def _candidates(batch: Sequence[PreparedEmit]) -> list[tuple[int, int, str]]:
    """(event's index, row's index, burst key) of each row a digest policy applies to."""
    found = []
    for b, prepared in enumerate(batch):
        if prepared.digest is None:
            continue
        tenant_id = prepared.tenant.id if prepared.tenant else None
        for r, row in enumerate(prepared.rows):
            if row.status != DeliveryStatus.QUEUED or not row.digestible:
                continue
            if renderer(row.channel).digests:
                found.append(
                    (b, r, burst_key(tenant_id, prepared.spec.name, row.channel, row.target))
                )
    return found


def hold_bursts(
    connection: Connection,
    batch: Sequence[PreparedEmit],
    event_ids: Sequence[int],
    now: datetime,
) -> Holds | None:
    """Decide, under the bursts' locks, which rows of `batch` are held; create the digests
    they go to and write the bursts' new state. None when no policy applies (no query)."""
    wanted = _candidates(batch)
    if not wanted:
        return None
    states: dict[str, _State] = {}
    for b, r, key in wanted:
        if key not in states:
            prepared, row = batch[b], batch[b].rows[r]
            tenant_id = prepared.tenant.id if prepared.tenant else None
            states[key] = _State(key, tenant_id, prepared.spec.name, str(row.channel))
    _load(connection, states, now)
    held: dict[tuple[int, int], Digest] = {}
    for b, r, key in wanted:
        state, prepared = states[key], batch[b]
        assert prepared.digest is not None
        if not state.hold(now, prepared.digest):
            continue
        if state.digest is None:
            assert state.closes_at is not None
            values = _digest_values(prepared.rows[r], prepared, event_ids[b], now, state.closes_at)
            state.digest = NewDigest(b, values)
        held[(b, r)] = state.digest
    new = list({id(d): d for d in held.values() if isinstance(d, NewDigest)}.values())
    if new:
        ids = insert_returning_ids(connection, DELIVERY, [d.values for d in new])
        for digest, digest_id in zip(new, ids, strict=True):
            digest.id = digest_id
    _write(connection, states)
    created = [(d.batch_index, {**d.values, "id": d.id}) for d in new]
    return Holds({place: _digest_id(d) or 0 for place, d in held.items()}, created)
