"""Replay refusal for signed Slack requests: each accepted signature is remembered in the
database while its timestamp is inside Slack's 5-minute window, so the same request sent
again, to this process or to another one on the same database, is refused.

Call `SeenSlackRequests.remember` only after the signature has been verified (unsigned junk
must not fill the table), and off the event loop: it is blocking database work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert

from core.db import SQLITE_BUSY_TIMEOUT_MS
from core.models.slack import SlackRequestSeen

# Slack's own window: a request whose timestamp is further than this from now is stale.
REPLAY_WINDOW_S = 300
PRUNE_INTERVAL_S = 60.0
# A Slack request is answered within 3 s; waiting longer than this for a lock is "busy".
LOCK_WAIT_MS = 1000


class SeenSlackRequests:
    """One per process (built when Slack's HTTP endpoint is mounted)."""

    def __init__(self, engine: Engine, *, prune_interval_s: float = PRUNE_INTERVAL_S) -> None:
        self.engine = engine
        self.prune_interval_s = prune_interval_s
        self._last_prune = float("-inf")
        self._prune_lock = threading.Lock()

    def remember(self, signature: str, timestamp: int, *, now: float | None = None) -> bool:
        """Record a verified request; False when it was already recorded (a replay)."""
        return signature in self.remember_many([(signature, timestamp)], now=now)

    def remember_many(
        self, requests: list[tuple[str, int]], *, now: float | None = None
    ) -> set[str]:
        """Record verified requests (signature, timestamp) in one transaction; the signatures
        seen for the first time (a signature twice in `requests` is in it once: the caller
        answers its second request as a replay).

        One INSERT for them all; the primary key on the signature makes a known one a no-op
        (ON CONFLICT DO NOTHING), atomically across processes. Raises the driver's
        OperationalError when the database stays locked longer than LOCK_WAIT_MS.
        """
        now = time.time() if now is None else now
        rows = list(
            {
                signature: {"signature": signature, "timestamp": timestamp}
                for signature, timestamp in reversed(requests)
            }.values()
        )
        with self._bounded_wait() as connection:
            try:
                # RETURNING, not rowcount: psycopg reports -1 for an ON CONFLICT insert
                inserted = connection.execute(self._insert_once(), rows).scalars().all()
            except IntegrityError:  # a backend without ON CONFLICT: a key is taken
                return set()
            if self._prune_due(now):
                # Rows whose timestamp can no longer pass the staleness check are useless.
                connection.execute(
                    delete(SlackRequestSeen).where(
                        SlackRequestSeen.timestamp < int(now) - REPLAY_WINDOW_S - 1  # type: ignore[arg-type]
                    )
                )
        return set(inserted)

    def _insert_once(self) -> Insert:
        table = SlackRequestSeen.__table__  # type: ignore[attr-defined]
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Insert = pg_insert(table).on_conflict_do_nothing(
                index_elements=["signature"]
            )
        elif self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=["signature"])
        else:
            statement = insert(table)
        return statement.returning(table.c.signature)

    def _prune_due(self, now: float) -> bool:
        with self._prune_lock:
            if now - self._last_prune < self.prune_interval_s:
                return False
            self._last_prune = now
            return True

    @contextmanager
    def _bounded_wait(self) -> Iterator[Connection]:
        """A transaction that waits at most LOCK_WAIT_MS for another writer's lock."""
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
                connection.commit()  # ends the autobegun no-op transaction, not the setting
            try:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
                    yield connection
            finally:
                if sqlite:  # the pooled connection goes back with core.db's own setting
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
                    connection.commit()
