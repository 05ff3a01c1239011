"""Group commit in the API's writer: events posted together share one transaction, and none
shares another's fate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.db import DATABASE, Batched, Database
from api.executors import MAX_GROUP
from core.context import Context
from core.errors import ValidationError
from core.models.audit import AuditEntry
from core.models.delivery import Delivery, EventRecord
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def database(ctx: Context) -> AsyncIterator[Database]:
    db = Database(ctx)
    yield db
    db.close()


def _commits(ctx: Context) -> list[int]:
    seen: list[int] = []
    event.listen(ctx.engine, "commit", lambda _conn: seen.append(1))
    return seen


async def _hold_writer(database: Database) -> threading.Event:
    """Keep the writer thread busy so that the next calls queue up and run as one group."""
    release = threading.Event()
    started = threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    asyncio.get_running_loop().create_task(database._writer.run(block))
    while not started.is_set():
        await asyncio.sleep(0.001)
    return release


def _write_audit(action: str):
    def work(session: Session) -> str:
        session.connection().execute(
            insert(AUDIT).values(actor="t", source="cli", action=action, fields=[])
        )
        return action

    return work


def _actions(ctx: Context) -> list[str]:
    with ctx.session() as session:
        return sorted(session.connection().execute(select(AUDIT.c.action)).scalars())


async def test_calls_waiting_together_commit_once(database: Database, ctx: Context) -> None:
    release = await _hold_writer(database)
    commits = _commits(ctx)
    calls = [database.grouped_write(_write_audit(f"a{i}")) for i in range(8)]
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*tasks) == [f"a{i}" for i in range(8)]
    assert len(commits) == 1
    assert _actions(ctx) == [f"a{i}" for i in range(8)]


async def test_a_refusal_before_writing_leaves_the_others_in_the_group(
    database: Database, ctx: Context
) -> None:
    def refuse(session: Session) -> None:
        raise ValidationError("data", "refused")

    release = await _hold_writer(database)
    commits = _commits(ctx)
    tasks = [
        asyncio.ensure_future(database.grouped_write(fn))
        for fn in (_write_audit("a"), refuse, _write_audit("b"))
    ]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], ValidationError)
    assert len(commits) == 1
    assert _actions(ctx) == ["a", "b"]


async def test_a_failure_after_writing_reruns_each_alone(database: Database, ctx: Context) -> None:
    def write_then_fail(session: Session) -> None:
        _write_audit("half")(session)
        raise RuntimeError("failed after writing")

    release = await _hold_writer(database)
    tasks = [
        asyncio.ensure_future(database.grouped_write(fn))
        for fn in (_write_audit("a"), write_then_fail, _write_audit("b"))
    ]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], RuntimeError)
    assert _actions(ctx) == ["a", "b"]  # nothing of the failed call, all of the others


async def test_concurrent_posts_are_each_committed_and_a_repeated_key_is_one_event(
    api: ApiClient, ctx: Context
) -> None:
    body = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
    answers = await asyncio.gather(
        *(api.post("/api/events", body) for _ in range(30)),
        *(api.post("/api/events", {**body, "key": "call-1"}) for _ in range(5)),
    )
    assert [a.status for a in answers] == [202] * 35
    keyed = answers[30:]
    assert len({a.body["event_id"] for a in keyed}) == 1
    assert sum(not a.body["duplicate"] for a in keyed) == 1
    with ctx.session() as session:
        count = session.connection().execute(select(func.count()).select_from(EventRecord)).scalar()
    assert count == 31


def _audit_batch_writer(writes: list[list[str]]):
    """A `write_many` that inserts one audit row per item in one statement, and notes each call."""

    def write_many(session: Session, actions: list[str]) -> list[str]:
        writes.append(actions)
        session.connection().execute(
            insert(AUDIT), [dict(actor="t", source="cli", action=a, fields=[]) for a in actions]
        )
        return [f"wrote {a}" for a in actions]

    return write_many


def _batched_audit(action: str, write_many):
    """A grouped call that hands its audit row to the batch write (of its group, or its own)."""

    def work(session: Session) -> Batched:
        return Batched(item=action, write_many=write_many, finish=str.upper)

    return work


async def test_a_batched_call_alone_is_written_committed_and_finished(
    database: Database, ctx: Context
) -> None:
    writes: list[list[str]] = []
    commits = _commits(ctx)
    answer = await database.grouped_write(_batched_audit("solo", _audit_batch_writer(writes)))
    assert answer == "WROTE SOLO" and writes == [["solo"]]
    assert len(commits) == 1 and _actions(ctx) == ["solo"]


async def test_a_batched_call_alone_that_breaks_a_key_answers_from_on_conflict(
    database: Database, ctx: Context
) -> None:
    def conflicting(session: Session, items: list[str]) -> list[str]:
        session.connection().execute(insert(AUDIT).values(actor="t", source="cli", action="x"))
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    def work(session: Session) -> Batched:
        return Batched(
            item="k",
            write_many=conflicting,
            finish=str.upper,
            on_conflict=lambda _session, item: f"first {item}",
        )

    def unresolved(session: Session) -> Batched:
        return Batched(item="k", write_many=conflicting, finish=str.upper)

    assert await database.grouped_write(work) == "FIRST K"
    with pytest.raises(IntegrityError):
        await database.grouped_write(unresolved)
    assert _actions(ctx) == []  # both rolled back


async def test_batched_calls_are_written_by_one_statement_and_each_finished(
    database: Database, ctx: Context
) -> None:
    writes: list[list[str]] = []
    write_many = _audit_batch_writer(writes)
    release = await _hold_writer(database)
    commits = _commits(ctx)
    tasks = [
        asyncio.ensure_future(database.grouped_write(_batched_audit(f"b{i}", write_many)))
        for i in range(5)
    ]
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*tasks) == [f"WROTE B{i}" for i in range(5)]
    assert writes == [[f"b{i}" for i in range(5)]]
    assert len(commits) == 1
    assert _actions(ctx) == [f"b{i}" for i in range(5)]


async def test_a_failing_batch_write_reruns_each_call_alone(
    database: Database, ctx: Context
) -> None:
    writes: list[list[str]] = []
    write_one = _audit_batch_writer(writes)

    def failing_write(session: Session, items: list[str]) -> list[str]:
        if len(items) == 1:  # alone: written
            return write_one(session, items)
        session.connection().execute(insert(AUDIT).values(actor="t", source="cli", action="x"))
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    release = await _hold_writer(database)
    tasks = [
        asyncio.ensure_future(database.grouped_write(_batched_audit(a, failing_write)))
        for a in ("a", "b", "c")
    ]
    await asyncio.sleep(0.05)
    release.set()
    assert await asyncio.gather(*tasks) == ["WROTE A", "WROTE B", "WROTE C"]
    assert writes == [["a"], ["b"], ["c"]]  # each again alone, after the group's batch failed
    assert _actions(ctx) == ["a", "b", "c"]  # the failed batch's row was rolled back


async def test_events_posted_together_are_inserted_by_one_statement(
    api: ApiClient, ctx: Context
) -> None:
    statements: list[str] = []
    event.listen(ctx.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    bodies = [
        {"event": "QUEUE_CALL_LOST", "data": {**QUEUE_CALL_LOST, "caller": f"+49 30 {i:06}"}}
        for i in range(40)
    ]
    database = api.client.server.app[DATABASE]
    release = await _hold_writer(database)
    posts = [asyncio.ensure_future(api.post("/api/events", body)) for body in bodies]
    for _ in range(500):  # until every request waits for the writer
        if database._writer._jobs.qsize() == len(bodies):
            break
        await asyncio.sleep(0.01)
    release.set()
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [202] * 40
    event_inserts = sum(s.lstrip().upper().startswith("INSERT INTO EVENT ") for s in statements)
    assert event_inserts == -(-40 // MAX_GROUP)  # one INSERT per group
    # each answer names its own event and deliveries, whatever order the rows were numbered in
    with ctx.session() as session:
        for body, answer in zip(bodies, answers, strict=True):
            record = session.get(EventRecord, answer.body["event_id"])
            assert record is not None and record.payload["caller"] == body["data"]["caller"]
            [delivery] = answer.body["deliveries"]
            row = session.get(Delivery, delivery["id"])
            assert row is not None and row.event_id == record.id
