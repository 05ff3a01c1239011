"""Does the database take writes? A background probe whose last verdict `/healthz` reports.

`/healthz` must answer fast and must not write on every request (a probe per request would
turn a health checker into a write load, and queue behind every lock). So one probe, on a
thread of its own, commits a write that changes nothing every PROBE_INTERVAL_S, and the health
check reads its cached verdict: at most that old, and never waiting on the database itself.

The write is `UPDATE alembic_version SET version_num = version_num`: a row every mailbell
database has, rewritten with its own value. It goes through the same storage as every other
write: on SQLite it appends to the WAL (which fails on a full or read-only filesystem); on
PostgreSQL it fails in a read-only database or on a standby. Errors are classified by
`Context.session` (core.errors.storage_error). A lock held by another process says nothing
about the storage: the previous verdict stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import text

from core.context import Context
from core.errors import StorageFullError, StorageReadOnlyError

log = logging.getLogger("mailbell.health")

PROBE_INTERVAL_S = 2.0
OK, FULL, READ_ONLY, UNKNOWN = "ok", "full", "read-only", "unknown"


def write_nothing(ctx: Context) -> None:
    """Commit a write that changes nothing (blocking). A database that refuses writes raises
    `StorageFullError` / `StorageReadOnlyError`; anything else raises as the driver says."""
    with ctx.session() as session:
        session.connection().execute(text("UPDATE alembic_version SET version_num = version_num"))
        session.commit()


@dataclass(frozen=True, slots=True)
class WriteVerdict:
    state: str  # OK, FULL, READ_ONLY, or UNKNOWN before the first probe has answered
    checked_at: float  # time.monotonic() of the probe that decided it

    @property
    def refused(self) -> bool:
        return self.state in (FULL, READ_ONLY)


class WriteProbe:
    """`verdict` is the last probe's answer; `run()` probes every `interval_s` until cancelled."""

    def __init__(self, ctx: Context, *, interval_s: float = PROBE_INTERVAL_S) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.verdict = WriteVerdict(UNKNOWN, time.monotonic())
        self._executor: ThreadPoolExecutor | None = None

    def check(self) -> WriteVerdict:
        """One probe (blocking): commit a write that changes nothing, classify the outcome."""
        state = OK
        try:
            write_nothing(self.ctx)
        except StorageFullError:
            state = FULL
        except StorageReadOnlyError:
            state = READ_ONLY
        except Exception as exc:  # locked, unreachable: nothing learnt about the storage
            log.debug("write probe inconclusive: %s", type(exc).__name__)
            state = self.verdict.state
        if state != self.verdict.state and (state != OK or self.verdict.state != UNKNOWN):
            log.warning("database write probe: writes are %s", state)  # a change, once
        self.verdict = WriteVerdict(state, time.monotonic())
        return self.verdict

    async def run(self) -> None:
        # A thread of its own: a probe waiting on another process's lock holds up nobody.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbell-probe")
        loop = asyncio.get_running_loop()
        try:
            while True:
                await loop.run_in_executor(self._executor, self.check)
                await asyncio.sleep(self.interval_s)
        finally:
            # no waiting: a probe stuck on a lock ends by itself within the busy timeout
            self._executor.shutdown(wait=False, cancel_futures=True)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
