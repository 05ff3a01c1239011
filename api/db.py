"""Running the synchronous core services off the event loop.

Writes go to one dedicated thread: SQLite takes one writer at a time, and a single writer never
waits on its own lock. Reads (GETs, health, metrics) run on a small pool of their own so they
never queue behind a burst of writes. Each call gets its own session, closed (and rolled back
unless the service committed) when the function returns; a request does its token check and its
work in one call (one thread hop, one session).

Measured in bench/api.py on SQLite: every hand-over between the event loop and a database
thread costs a wake-up of the loop (a write on its self-pipe, which then waits for the GIL), so
the writer hands finished calls back in batches — one wake-up for all the calls that finished
while the loop was busy — instead of one wake-up per call (`run_in_executor`).

Group commit: events posted together (`grouped_write`) run one after another in one
transaction and one commit, which costs a third of an event's time on SQLite and a disk flush
on PostgreSQL. A call may hand back its writes as a `Batched` instead of writing them: the
group then writes the rows of all its calls with one statement per table (`write_many`) and
hands each call's share to its `finish`. No request shares another's fate: if one of them
fails after it wrote something, or the batch write or the commit fails, the transaction is
rolled back and each runs again alone. Every answer is handed back only after its transaction
committed.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from core.context import Context

T = TypeVar("T")

READ_THREADS = 4
# Enough to take a burst; small enough that the SQLite write lock is not held for long.
MAX_GROUP = 16
_STOP = object()

Outcome = tuple[Any, BaseException | None]  # (result, error)
GroupRunner = Callable[[list[Callable[..., Any]]], list[Outcome]]


@dataclass(frozen=True, slots=True)
class Batched:
    """What a grouped call returns to have its writes joined with the group's: `item` goes to
    `write_many(session, items)` with the other calls' items (one list in, one result per item
    out, the caller commits), and the call's answer is `finish(result)`."""

    item: Any
    write_many: Callable[[Session, list[Any]], list[Any]]
    finish: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Callable[..., Any]
    grouped: bool


class SerialExecutor:
    """One thread running calls in order; results go back to their loops in batches.

    Calls queued with `grouped=True` that are waiting together go to `group_runner` at once.
    """

    def __init__(self, name: str, group_runner: GroupRunner | None = None) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._group_runner = group_runner
        self._lock = threading.Lock()
        self._finished: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., T], *, grouped: bool = False) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(loop, future, fn, grouped and self._group_runner is not None))
        return await future

    def _run(self) -> None:
        held: Any = None
        while True:
            job, held = held or self._jobs.get(), None
            if job is _STOP:
                return
            if not job.grouped:
                try:
                    outcome: Outcome = (job.fn(), None)
                except BaseException as exc:
                    outcome = (None, exc)
                self._hand_back(job.loop, (job.future, *outcome))
                continue
            group = [job]
            while len(group) < MAX_GROUP:
                try:
                    waiting = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if waiting is _STOP or not waiting.grouped:
                    held = waiting
                    break
                group.append(waiting)
            self._run_group(group)

    def _run_group(self, group: list[_Job]) -> None:
        assert self._group_runner is not None
        try:
            outcomes = self._group_runner([job.fn for job in group])
        except BaseException as exc:
            outcomes = [(None, exc)] * len(group)
        for job, outcome in zip(group, outcomes, strict=True):
            self._hand_back(job.loop, (job.future, *outcome))

    def _hand_back(self, loop: asyncio.AbstractEventLoop, outcome: tuple[Any, Any, Any]) -> None:
        with self._lock:
            pending = self._finished.setdefault(loop, [])
            pending.append(outcome)
            if len(pending) > 1:
                return  # the loop has a wake-up coming that will take this one too
        try:
            loop.call_soon_threadsafe(self._deliver, loop)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            with self._lock:
                self._finished.pop(loop, None)

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            outcomes = self._finished.pop(loop, [])
        for future, result, error in outcomes:
            if future.cancelled():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


class Database:
    def __init__(self, ctx: Context, *, read_threads: int = READ_THREADS) -> None:
        self.ctx = ctx
        self._writer = SerialExecutor("mailbell-api-write", group_runner=self._run_group)
        self._readers = ThreadPoolExecutor(
            max_workers=read_threads, thread_name_prefix="mailbell-api-read"
        )

    def _call(self, fn: Callable[[Session], T]) -> T:
        with self.ctx.session() as session:
            return fn(session)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on the writer thread; the service commits."""
        return await self._writer.run(lambda: self._call(fn))

    async def grouped_write(self, fn: Callable[[Session, bool], T]) -> T:
        """`fn(session, commit)` on the writer thread, possibly in one transaction with other
        grouped calls: `fn` commits only when `commit` is True; otherwise the group commits."""
        return await self._writer.run(fn, grouped=True)

    def _run_group(self, fns: list[Callable[[Session, bool], Any]]) -> list[Outcome]:
        if len(fns) > 1:
            outcomes = self._run_together(fns)
            if outcomes is not None:
                return outcomes
        return [self._run_alone(fn) for fn in fns]

    def _run_alone(self, fn: Callable[[Session, bool], Any]) -> Outcome:
        try:
            with self.ctx.session() as session:
                return fn(session, True), None
        except BaseException as exc:
            return None, exc

    def _run_together(self, fns: list[Callable[[Session, bool], Any]]) -> list[Outcome] | None:
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
                        outcomes.append((fn(session, False), None))
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
        self._writer.shutdown()
        self._readers.shutdown(wait=True)


CONTEXT = web.AppKey("context", Context)
DATABASE = web.AppKey("database", Database)
