"""The threads behind `api.db.Database`: a serial executor (the writer) and a fair pool (the
preparing threads), both handing finished calls back to their event loops in batches."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# Enough to take a burst; small enough that the SQLite write lock is not held for long.
MAX_GROUP = 16
_STOP = object()

Outcome = tuple[Any, BaseException | None]  # (result, error)
GroupRunner = Callable[[list[Callable[..., Any]]], list[Outcome]]


@dataclass(frozen=True, slots=True)
class Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Callable[..., Any]
    grouped: bool


class HandBack:
    """Finished calls go back to their event loops in batches: one wake-up of a loop takes every
    call that finished while it was busy (`run_in_executor` would wake it once per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._finished: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}

    def __call__(self, job: Job, outcome: Outcome) -> None:
        loop = job.loop
        with self._lock:
            pending = self._finished.setdefault(loop, [])
            pending.append((job.future, *outcome))
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


def outcome_of(fn: Callable[[], Any]) -> Outcome:
    try:
        return fn(), None
    except BaseException as exc:
        return None, exc


class SerialExecutor:
    """One thread running calls in order; results go back to their loops in batches.

    Calls queued with `grouped=True` that are waiting together go to `group_runner` at once
    (up to `MAX_GROUP`).
    """

    def __init__(self, name: str, group_runner: GroupRunner | None = None) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._group_runner = group_runner
        self._hand_back = HandBack()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[..., T], *, grouped: bool = False) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(Job(loop, future, fn, grouped and self._group_runner is not None))
        return await future

    def submit(self, job: Job) -> None:
        """Queue `job` from any thread (its outcome goes to `job.future`)."""
        self._jobs.put(job)

    def _run(self) -> None:
        held: Any = None
        while True:
            job, held = held or self._jobs.get(), None
            if job is _STOP:
                return
            if not job.grouped:
                self._hand_back(job, outcome_of(job.fn))
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

    def _run_group(self, group: list[Job]) -> None:
        assert self._group_runner is not None
        try:
            outcomes = self._group_runner([job.fn for job in group])
        except BaseException as exc:
            outcomes = [(None, exc)] * len(group)
        for job, outcome in zip(group, outcomes, strict=True):
            self._hand_back(job, outcome)

    def shutdown(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()


class FairPool:
    """A few threads running calls, fair between keys (the API keys by tenant).

    Calls with the same key run on one thread at a time, in order of arrival, and keys with
    calls waiting take turns: a tenant whose calls are slow (a template that renders for
    250 ms) holds at most one thread, and another tenant's call waits behind at most one turn
    of each other tenant that is waiting too, never behind a queue of the slow tenant's calls.

    A turn takes up to `MAX_GROUP` of its key's waiting calls to `run_batch(jobs)`, which
    answers their futures itself: the API's preparations go on to the writer together, to be
    written as one group, instead of one by one.
    """

    def __init__(self, name: str, threads: int, run_batch: Callable[[list[Job]], None]) -> None:
        self._ready = threading.Condition()
        self._waiting: dict[Hashable, deque[Job]] = {}  # a key's calls not yet taken
        self._turns: deque[Hashable] = deque()  # keys with calls waiting and none running
        self._stopping = False
        self._run_batch = run_batch
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True)
            for index in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, job: Job) -> None:
        with self._ready:
            waiting = self._waiting.get(key)
            if waiting is not None:  # a turn of this key is running or coming
                waiting.append(job)
                return
            self._waiting[key] = deque([job])
            self._turns.append(key)
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._turns and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    return
                key = self._turns.popleft()
                waiting = self._waiting[key]
                jobs = [waiting.popleft() for _ in range(min(len(waiting), MAX_GROUP))]
            self._run_batch(jobs)
            with self._ready:
                if waiting:
                    self._turns.append(key)  # behind the keys already waiting: they take turns
                    self._ready.notify()
                else:
                    del self._waiting[key]

    def shutdown(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
