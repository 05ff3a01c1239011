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
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web
from sqlmodel import Session

from core.context import Context

T = TypeVar("T")

READ_THREADS = 4
_STOP = object()


class SerialExecutor:
    """One thread running calls in order; results go back to their loops in batches."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._finished: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn))
        return await future

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            loop, future, fn = job
            try:
                outcome: tuple[Any, Any, Any] = (future, fn(), None)
            except BaseException as exc:
                outcome = (future, None, exc)
            self._hand_back(loop, outcome)

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
        self._writer = SerialExecutor("mailbell-api-write")
        self._readers = ThreadPoolExecutor(
            max_workers=read_threads, thread_name_prefix="mailbell-api-read"
        )

    def _call(self, fn: Callable[[Session], T]) -> T:
        with self.ctx.session() as session:
            return fn(session)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on the writer thread; the service commits."""
        return await self._writer.run(lambda: self._call(fn))

    async def read(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._call, fn)

    def close(self) -> None:
        self._writer.shutdown()
        self._readers.shutdown(wait=True)


CONTEXT = web.AppKey("context", Context)
DATABASE = web.AppKey("database", Database)
