"""The listeners' database work, off the event loop and on a lock wait shorter than Slack's 3 s.

A listener's answer (the ack) must reach Slack within 3 s, and the event loop it runs on also
serves `/healthz`, the API and the worker. So every listener hands its database work to
`ListenerDatabase.run`, which:

- runs it on a small thread pool of its own (never on the loop, never behind the API's writer);
- gives it its own engine, whose connections wait at most LOCK_WAIT_MS for another writer's
  lock (SQLite `busy_timeout`; PostgreSQL `lock_timeout`, and `statement_timeout` for anything
  else that hangs), so a locked database fails the work cleanly, rolled back, well before
  Slack's deadline, instead of committing after the user was told "busy";
- answers `DatabaseBusy` when the work met a lock, or is still running at ANSWER_BY_S. In that
  second case a commit cannot sneak in after the answer: each commit first claims the call's
  `_Ticket`, and a call given up on refuses to commit (a commit already under way is waited for
  and its outcome is the answer).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.context import Context
from core.db_busy import database_busy

T = TypeVar("T")
log = logging.getLogger("slackbot")

# Two: one slow command does not hold up the others; more only contend for the GIL and
# SQLite (bench/slack.py: 747 req/s with 1 thread, 641 with 2, 589 with 4).
THREADS = 2
LOCK_WAIT_MS = 1500  # well inside Slack's 3 s, with room for the work itself and the answer
STATEMENT_TIMEOUT_MS = 2000  # PostgreSQL: a statement stuck on anything else than a lock
ANSWER_BY_S = 2.5  # the latest moment the work may finish and still be answered in time
BUSY_TEXT = (
    ":hourglass: mailbell's database is busy right now (another process holds a lock). "
    "Nothing was changed: try again in a few seconds."
)


class DatabaseBusy(Exception):
    """The work met a lock (or ran out of time) and was rolled back: nothing changed."""


class _Ticket:
    """One call's race between its commit (worker thread) and its deadline (event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "running"

    def claim_commit(self) -> bool:
        with self._lock:
            if self._state == "abandoned":
                return False
            self._state = "committing"
            return True

    def abandon(self) -> bool:
        """Give up on the call unless it has begun committing (then its outcome stands)."""
        with self._lock:
            if self._state == "committing":
                return False
            self._state = "abandoned"
            return True

    @property
    def abandoned(self) -> bool:
        with self._lock:
            return self._state == "abandoned"


_current = threading.local()  # the ticket of the call running on this thread


def _refuse_late_commit(_connection: Any) -> None:
    ticket: _Ticket | None = getattr(_current, "ticket", None)
    if ticket is not None and not ticket.claim_commit():
        raise DatabaseBusy("the answer was already sent: not committing")


def bounded_engine(ctx: Context, *, pool_size: int = THREADS) -> Engine:
    """An engine on ctx's database whose connections wait at most LOCK_WAIT_MS for a lock."""
    from core.db import make_engine

    url = ctx.engine.url.render_as_string(hide_password=False)
    if ctx.engine.dialect.name == "sqlite":
        engine = make_engine(url, pool_size=pool_size, max_overflow=0)

        def short_wait(dbapi_connection: Any, _record: Any) -> None:
            # after core.db's own settings (listeners run in order): replaces its 5 s wait
            dbapi_connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")

        event.listen(engine, "connect", short_wait)
    else:
        options = f"-c lock_timeout={LOCK_WAIT_MS} -c statement_timeout={STATEMENT_TIMEOUT_MS}"
        engine = make_engine(
            url, pool_size=pool_size, max_overflow=0, connect_args={"options": options}
        )
    event.listen(engine, "commit", _refuse_late_commit)
    return engine


class ListenerDatabase:
    """One per bolt app: its threads start on first use, its engine is built on first use."""

    def __init__(self, ctx: Context, *, threads: int = THREADS) -> None:
        self.ctx = ctx
        self._threads = threads
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="mailbell-slack-db"
        )
        self._bounded: Context | None = None
        self._build_lock = threading.Lock()

    def _context(self) -> Context:
        with self._build_lock:
            if self._bounded is None:
                engine = bounded_engine(self.ctx, pool_size=self._threads)
                self._bounded = dataclasses.replace(self.ctx, engine=engine)
            return self._bounded

    def _call(self, ticket: _Ticket, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if ticket.abandoned:  # waited in the queue past the deadline: never started
            raise DatabaseBusy("not started before the deadline")
        _current.ticket = ticket
        try:
            return fn(self._context(), *args)
        except DatabaseBusy:
            raise
        except Exception as exc:
            reason = database_busy(exc)
            if reason is None:
                raise
            raise DatabaseBusy(reason) from None  # the driver's message may quote SQL
        finally:
            _current.ticket = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(ctx, *args)` on a thread, ctx being this listener's bounded context.

        Raises DatabaseBusy when the database was locked or the work did not finish in time.
        """
        ticket = _Ticket()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._call, ticket, fn, args)
        try:
            return await asyncio.wait_for(asyncio.shield(future), ANSWER_BY_S)
        except TimeoutError:
            if not ticket.abandon():
                return await future  # it is committing: its outcome is the answer
            future.add_done_callback(_consume)
            raise DatabaseBusy(f"not done within {ANSWER_BY_S} s") from None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._bounded is not None:
            self._bounded.engine.dispose()


def _consume(future: asyncio.Future[Any]) -> None:
    """A call given up on still ends (rolled back); its error has nobody left to tell."""
    if not future.cancelled() and future.exception() is not None:
        log.info("slack: abandoned database work ended: %s", type(future.exception()).__name__)
