"""Running the synchronous core services off the event loop.

Writes go to one dedicated thread: SQLite takes one writer at a time, and a single writer never
waits on its own lock. Reads (GETs, health, metrics) run on a small pool of their own so they
never queue behind a burst of writes. Each call gets its own session, closed (and rolled back
unless the service committed) when the function returns; a request does its token check and its
work in one call (one thread hop, one session).

Work that computes a lot before it writes (`POST /api/events`: validation, rendering a
template for up to 250 ms, encryption) is split (`prepared_write`): the preparation runs on a
preparing thread of its own (`FairPool`, two threads, sessions of their own, writing nothing),
where tenants take turns and one tenant holds at most one thread; only its result goes to the
writer, which then just writes it. The preparing thread queues the write for the writer
itself, the writes of one turn together so that they make one group, and the answer goes back
to the loop once, after the commit. The writer thread therefore never renders, and one
tenant's slow template holds up neither other tenants' events nor anybody's reads.

Measured in bench/api.py on SQLite: every hand-over between the event loop and a database
thread costs a wake-up of the loop (a write on its self-pipe, which then waits for the GIL), so
the writer hands finished calls back in batches — one wake-up for all the calls that finished
while the loop was busy — instead of one wake-up per call (`run_in_executor`); the preparing
threads do the same, and prepare one turn's calls in one read transaction.

Group commit: events posted together (`grouped_write`) run one after another in one
transaction and one commit, which costs a third of an event's time on SQLite and a disk flush
on PostgreSQL. A call may hand back its writes as a `Batched` instead of writing them: the
group then writes the rows of all its calls with one statement per table (`write_many`) and
hands each call's share to its `finish`. No request shares another's fate: if one of them
fails after it wrote something, or the batch write or the commit fails, the transaction is
rolled back and each runs again alone. Every answer is handed back only after its transaction
committed.

Unit of work (the rule of core/services, here for the writer): a plain `write` runs a use case,
which commits its own transaction with its audit entry. A grouped call never commits and takes
no flag saying whether to: it writes in the session it is given (or hands its rows back as a
`Batched`), and the Database commits — once for a whole group, or for a call run alone — so
that the calls of a group share one commit. The writers a `Batched` names (`write_many`, e.g.
`core.pipeline.emit_write.write_emits`) are the private, non-committing helpers.

The threads themselves (the serial writer, the fair preparing pool, the batched hand-back)
live in `api.executors`.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from aiohttp import web
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session

from api.executors import (
    FairPool,
    HandBack,
    Job,
    Outcome,
    SerialExecutor,
    outcome_of,
)
from core.context import Context
from core.errors import StorageError

T = TypeVar("T")
P = TypeVar("P")

READ_THREADS = 4
# Preparing threads (`prepared_write`): one tenant holds at most one of them, so two keep a
# slow tenant from holding up the others; more would only share the GIL with the writer.
PREPARE_THREADS = 2
SWITCH_INTERVAL_S = 0.001
# How long the preparations of one turn may read from one snapshot (see `_prepare_batch`).
PREPARE_SNAPSHOT_S = 0.05


@dataclass(frozen=True, slots=True)
class Batched:
    """What a grouped call returns to have its writes joined with the group's: `item` goes to
    `write_many(session, items)` with the other calls' items (one list in, one result per item
    out; it never commits), and the call's answer is `finish(result)`.

    A call run alone has its item written the same way, by `write_many(session, [item])`, and
    committed. When that breaks a key (`IntegrityError`: another process wrote the same
    idempotency key meanwhile), the transaction is rolled back and `on_conflict(session,
    item)` may give the result instead (None: the error stands)."""

    item: Any
    write_many: Callable[[Session, list[Any]], list[Any]]
    finish: Callable[[Any], Any]
    on_conflict: Callable[[Session, Any], Any | None] | None = None


@dataclass(frozen=True, slots=True)
class _Then:
    """A preparation's result: the write it goes on to, on the writer thread."""

    write: Callable[[Session], Any]


@dataclass(frozen=True, slots=True)
class Answered:
    """What a `prepared_write` preparation returns when it has the answer already (a repeated
    idempotency key): `value` goes back to the caller and the writer is not involved."""

    value: Any


class Database:
    def __init__(
        self,
        ctx: Context,
        *,
        read_threads: int = READ_THREADS,
        prepare_threads: int = PREPARE_THREADS,
    ) -> None:
        self.ctx = ctx
        self._writer = SerialExecutor("mailbell-api-write", group_runner=self._run_group)
        self._hand_back = HandBack()
        self._preparers = FairPool(
            "mailbell-api-prepare", prepare_threads, run_batch=self._prepare_batch
        )
        # A template rendering on a preparing thread is pure Python and holds the GIL until the
        # interpreter asks it to switch: every time the loop, the writer or another tenant's
        # preparation takes the GIL back (after each database call, each wake-up), it waits up
        # to one switch interval. At the default 5 ms that added up to a p99 of 150 ms for
        # another tenant's event while one tenant's renders took 120 ms each; at 1 ms, 26 ms.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._readers = ThreadPoolExecutor(
            max_workers=read_threads, thread_name_prefix="mailbell-api-read"
        )

    def _call(self, fn: Callable[[Session], T]) -> T:
        with self.ctx.session() as session:
            return fn(session)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on the writer thread; the service commits."""
        return await self._writer.run(lambda: self._call(fn))

    async def grouped_write(self, fn: Callable[[Session], T | Batched]) -> T:
        """`fn(session)` on the writer thread, possibly in one transaction with other grouped
        calls. `fn` never commits (unit of work: the group's transaction is the Database's,
        committed once for all its calls; a call run alone is committed the same way); it
        writes in `session`, or hands its rows back as a `Batched`."""
        return cast(T, await self._writer.run(fn, grouped=True))

    async def prepared_write(
        self,
        key: Hashable,
        prepare: Callable[[Session], P | Answered],
        write: Callable[[Session, P], T | Batched],
    ) -> T:
        """`prepare(session)` on a preparing thread (keys take turns), then
        `write(session, prepared)` as a `grouped_write`; one answer, after the commit.

        The preparation has a session of its own, rolled back when it returns: it reads and
        computes (for an event: token, validation, configuration, rendering, encryption), and
        the writer thread gets only the writes, so that a slow preparation holds up neither
        other callers' writes nor the reads (a pool of its own, not the readers'). An error or
        an `Answered` from `prepare` is the answer.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def run(session: Session) -> _Then | Answered:
            prepared = prepare(session)
            if isinstance(prepared, Answered):
                return prepared
            return _Then(functools.partial(_write_prepared, write, prepared))

        self._preparers.submit(key, Job(loop, future, run, grouped=False))
        return await future

    def _prepare_batch(self, jobs: list[Job]) -> None:
        """Run the preparations of one turn in one session; their writes go to the writer
        together, queued by this thread (through the loop, each would cost it a wake-up), and
        errors and `Answered` values straight back to their callers.

        One session and read transaction for the turn: what every preparation reads first (the
        token, the configuration's generation) is read once, as in a group's transaction on
        the writer; without it the API took a third more CPU per event in bench/api.py. A
        transaction older than `PREPARE_SNAPSHOT_S` is ended between two preparations, so that
        a configuration change is not left unseen for long behind slow renders.
        """
        writes: list[Job] = []
        done = 0
        try:
            with self.ctx.session() as session:
                began = time.monotonic()
                for job in jobs:
                    if time.monotonic() - began > PREPARE_SNAPSHOT_S:
                        session.rollback()
                        began = time.monotonic()
                    result, error = outcome_of(functools.partial(job.fn, session))
                    error = self._storage_error(error)
                    if isinstance(error, SQLAlchemyError):
                        session.rollback()  # the next preparation starts a transaction of its own
                        began = time.monotonic()
                    if isinstance(result, _Then):
                        writes.append(Job(job.loop, job.future, result.write, grouped=True))
                    else:
                        value = result.value if isinstance(result, Answered) else None
                        self._hand_back(job, (value, error))
                    done += 1
        except BaseException as exc:  # the session itself failed: the calls it did not run
            for job in jobs[done:]:
                self._hand_back(job, (None, self._storage_error(exc)))
        # Queued in one go, after the turn: the writer finds them waiting together and writes
        # them as one group (a write queued as soon as it was prepared would be written alone).
        for write in writes:
            self._writer.submit(write)

    def _storage_error(self, error: BaseException | None) -> BaseException | None:
        """`error` as `Context.session` raises it: a full or read-only database is a storage
        error (507 / 503), also when it was caught inside the session's block."""
        if not isinstance(error, Exception) or isinstance(error, StorageError):
            return error
        translated = self.ctx.storage_error(error)
        if translated is None:
            return error
        translated.__cause__ = error
        return translated

    def _run_group(self, fns: list[Callable[[Session], Any]]) -> list[Outcome]:
        if len(fns) > 1:
            outcomes = self._run_together(fns)
            if outcomes is not None:
                return outcomes
        return [self._run_alone(fn) for fn in fns]

    def _run_alone(self, fn: Callable[[Session], Any]) -> Outcome:
        """One grouped call in a transaction of its own, committed here."""
        try:
            with self.ctx.session() as session:
                result = fn(session)
                if isinstance(result, Batched):
                    return _write_alone(session, result), None
                session.commit()
                return result, None
        except BaseException as exc:
            return None, exc

    def _run_together(self, fns: list[Callable[[Session], Any]]) -> list[Outcome] | None:
        """All of `fns` in one transaction; None (rolled back) if one failed after writing or
        the commit failed."""
        writes = 0

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            nonlocal writes
            if statement.lstrip()[:6].upper() != "SELECT":
                writes += 1

        with self.ctx.session() as session:
            connection = session.connection()
            event.listen(connection, "before_cursor_execute", count)
            try:
                outcomes: list[Outcome] = []
                for fn in fns:
                    before = writes
                    try:
                        outcomes.append((fn(session), None))
                    except Exception as exc:
                        if writes != before or isinstance(exc, SQLAlchemyError):
                            session.rollback()
                            return None
                        outcomes.append((None, exc))
                try:
                    self._write_batches(session, outcomes)
                    session.commit()
                except SQLAlchemyError:
                    session.rollback()
                    return None
                return outcomes
            finally:
                event.remove(connection, "before_cursor_execute", count)

    @staticmethod
    def _write_batches(session: Session, outcomes: list[Outcome]) -> None:
        """Write the `Batched` results of `outcomes`, one `write_many` call per kind, and put
        each call's finished answer in its place."""
        kinds: dict[Any, list[int]] = {}
        for index, (result, _error) in enumerate(outcomes):
            if isinstance(result, Batched):
                kinds.setdefault(result.write_many, []).append(index)
        for write_many, indexes in kinds.items():
            written = write_many(session, [outcomes[i][0].item for i in indexes])
            for index, result in zip(indexes, written, strict=True):
                try:
                    outcomes[index] = (outcomes[index][0].finish(result), None)
                except Exception as exc:
                    outcomes[index] = (None, exc)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._call, fn)

    def close(self) -> None:
        self._preparers.shutdown()  # first: a preparation may still hand its write on
        self._writer.shutdown()
        self._readers.shutdown(wait=True)


def _write_prepared(
    write: Callable[[Session, P], T | Batched], prepared: P, session: Session
) -> T | Batched:
    return write(session, prepared)


def _write_alone(session: Session, batched: Batched) -> Any:
    """A `Batched` call's rows written and committed on their own (see `Batched`)."""
    try:
        [written] = batched.write_many(session, [batched.item])
        session.commit()
    except IntegrityError:
        session.rollback()
        found = batched.on_conflict(session, batched.item) if batched.on_conflict else None
        if found is None:
            raise
        written = found
    return batched.finish(written)


CONTEXT = web.AppKey("context", Context)
DATABASE = web.AppKey("database", Database)
