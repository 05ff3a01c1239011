"""Worker logic: outcomes, retries, partial refusals, max age, leases and pacing.

The channel here is a scripted implementation of the Channel interface, so each outcome can be
forced; tests/mail/test_pipeline_smtp.py runs the same worker against real SMTP servers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from core.channels.base import Channel, ChannelResult, ClaimedDelivery
from core.errors import PermanentError, RetryableError
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.pipeline import outbox
from core.pipeline.pacing import backoff_delay
from core.pipeline.worker import Worker
from tests.support.factories import ACME_SERVER, emit_events, make_configured_tenant

RECIPIENTS = ["a@acme.org", "b@acme.org", "c@acme.org"]


class ScriptedChannel(Channel):
    """Answers each send with the next scripted step (an exception or a refusal map)."""

    name = "email"

    def __init__(self, *steps, limit: int = 0) -> None:
        self.steps = list(steps)
        self.sent: list[tuple[int, list[str]]] = []
        self.limit = limit

    def rate_limit(self, delivery):
        return self.limit

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        step = self.steps.pop(0) if self.steps else None
        if isinstance(step, Exception):
            raise step
        refused = {a: r for a, r in (step or {}).items() if a in delivery.pending}
        self.sent.append((delivery.id, list(delivery.pending)))
        accepted = [a for a in delivery.pending if a not in refused]
        return ChannelResult(accepted=accepted, refused=refused, reply="250 2.0.0 queued")

    async def close(self) -> None:
        pass


@pytest.fixture
def queued(ctx, session, actor):
    """Emit `n` QUEUE_CALL_LOST events to three recipients; returns their delivery ids."""
    tenant = make_configured_tenant(
        session, ctx.box, server=ACME_SERVER, recipients=RECIPIENTS, actor=actor
    )
    return lambda n=1: emit_events(session, ctx.box, tenant, n)


def _row(ctx, delivery_id) -> Delivery:
    with ctx.session() as session:
        return session.get(Delivery, delivery_id)


async def _run(ctx, channel, *, rounds: int = 1, **kwargs):
    """`rounds` passes of `run_once`, a short pause between them for retries to come due."""
    worker = Worker(ctx, channels={"email": channel}, **kwargs)
    try:
        for index in range(rounds):
            if index:
                await asyncio.sleep(0.05)
            stats = await worker.run_once()
        return stats
    finally:
        await worker.close()


async def test_sent(ctx, queued) -> None:
    [delivery_id] = queued()
    channel = ScriptedChannel()
    stats = await _run(ctx, channel)
    assert stats.sent == 1 and channel.sent == [(delivery_id, RECIPIENTS)]
    row = _row(ctx, delivery_id)
    assert (row.status, row.attempts, row.pending) == ("sent", 1, [])
    assert row.sent_at is not None and row.lease_owner is None
    assert {r["status"] for r in row.results.values()} == {"sent"}


async def test_retryable_then_sent_exactly_once(ctx, queued) -> None:
    ctx.settings.retry_base_s = 0.01
    [delivery_id] = queued()
    down = RetryableError("connection refused", step="connect")
    channel = ScriptedChannel(down, down, down)
    await _run(ctx, channel, rounds=8)
    row = _row(ctx, delivery_id)
    assert row.status == "sent" and row.attempts == 4
    assert channel.sent == [(delivery_id, RECIPIENTS)]


async def test_retry_waits_for_backoff(ctx, queued) -> None:
    ctx.settings.retry_base_s = 30
    [delivery_id] = queued()
    await _run(ctx, ScriptedChannel(RetryableError("451 4.3.0 try later", step="data", code=451)))
    row = _row(ctx, delivery_id)
    assert row.status == "queued" and row.attempts == 1
    assert row.last_error == "[data] 451 4.3.0 try later"
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=10) < wait < timedelta(seconds=46)


async def test_permanent_error_fails_with_the_reply(ctx, queued) -> None:
    [delivery_id] = queued()
    error = PermanentError("554 5.7.1 rejected", step="data", code=554, reply="554 5.7.1 rejected")
    await _run(ctx, ScriptedChannel(error))
    row = _row(ctx, delivery_id)
    assert row.status == "failed" and row.reply == "554 5.7.1 rejected"
    assert all(r["status"] == "failed" for r in row.results.values())


async def test_one_recipient_refused_permanently(ctx, queued) -> None:
    [delivery_id] = queued()
    await _run(ctx, ScriptedChannel({"b@acme.org": (550, "5.1.1 no such user")}))
    row = _row(ctx, delivery_id)
    assert row.status == "partial"
    assert row.results["b@acme.org"] == {"status": "failed", "reply": "550 5.1.1 no such user"}
    assert row.results["a@acme.org"]["status"] == "sent"
    assert "1 of 3 recipient(s) refused" in row.last_error


async def test_deferred_recipient_is_retried_alone(ctx, queued) -> None:
    ctx.settings.retry_base_s = 0.01
    [delivery_id] = queued()
    channel = ScriptedChannel({"c@acme.org": (451, "4.2.1 mailbox busy")})
    await _run(ctx, channel, rounds=4)
    assert channel.sent == [(delivery_id, RECIPIENTS), (delivery_id, ["c@acme.org"])]
    row = _row(ctx, delivery_id)
    assert row.status == "sent" and {r["status"] for r in row.results.values()} == {"sent"}


async def test_gives_up_after_max_age(ctx, queued) -> None:
    ctx.settings.retry_base_s = 0.01
    ctx.settings.retry_max_age_s = 0.0
    [delivery_id] = queued()
    await _run(ctx, ScriptedChannel(RetryableError("timed out", step="connect")))
    row = _row(ctx, delivery_id)
    assert row.status == "failed" and row.last_error.startswith("gave up after 1 attempts")
    assert "timed out" in row.last_error


async def test_expired_lease_comes_due_again(ctx, queued) -> None:
    [delivery_id] = queued()
    # A worker claims and dies: its lease is the only thing left.
    claimed = outbox.claim(ctx.engine, owner="dead-worker", limit=10, lease_s=-1)
    assert [d.id for d in claimed] == [delivery_id]
    assert _row(ctx, delivery_id).status == "sending"
    channel = ScriptedChannel()
    await _run(ctx, channel)
    row = _row(ctx, delivery_id)
    assert row.status == "sent" and row.attempts == 2
    assert channel.sent == [(delivery_id, RECIPIENTS)]


async def test_live_lease_is_not_taken(ctx, queued) -> None:
    queued()
    outbox.claim(ctx.engine, owner="busy-worker", limit=10, lease_s=300)
    channel = ScriptedChannel()
    stats = await _run(ctx, channel)
    assert stats.claimed == 0 and channel.sent == []


async def test_rate_limit_reschedules_instead_of_sending(ctx, queued) -> None:
    ids = queued(3)
    channel = ScriptedChannel(limit=2)
    stats = await _run(ctx, channel)
    assert len(channel.sent) == 2 and stats.paced == 1
    with ctx.session() as session:
        waiting = session.exec(select(Delivery).where(Delivery.status == "queued")).one()
    assert waiting.id in ids and waiting.attempts == 0
    assert waiting.next_attempt_at - utcnow() > timedelta(seconds=50)


def test_backoff_doubles_with_jitter() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff_delay(n, 30, rng=rng) for n in (1, 2, 3, 4)]
    for n, delay in enumerate(delays, start=1):
        assert 15 * 2 ** (n - 1) <= delay < 45 * 2 ** (n - 1)


async def test_retry_command_requeues_failed(ctx, queued, cli) -> None:
    [delivery_id] = queued()
    await _run(ctx, ScriptedChannel(PermanentError("550 nope", step="rcpt", code=550)))
    assert cli("deliveries", "retry", str(delivery_id)).code == 0
    row = _row(ctx, delivery_id)
    assert row.status == "queued" and row.pending == RECIPIENTS
    assert cli("deliveries", "retry", str(delivery_id)).code == 1  # only failed ones
    shown = cli("deliveries", "show", str(delivery_id), "--json")
    assert '"status": "queued"' in shown.out


# -- the attempt history (delivery_attempt) ---------------------------------------------------


def _attempts(ctx, delivery_id) -> list[tuple[str, str | None, str | None]]:
    from core.services.deliveries import list_attempts

    with ctx.session() as session:
        return [
            (a.outcome, a.detail, a.worker)
            for a in list_attempts(session=session, delivery_id=delivery_id)
        ]


async def test_each_attempt_is_recorded_with_its_outcome(ctx, queued) -> None:
    ctx.settings.retry_base_s = 0.01
    [delivery_id] = queued()
    channel = ScriptedChannel(
        RetryableError("connection refused", step="connect"),
        {"c@acme.org": (451, "4.2.1 mailbox busy"), "b@acme.org": (550, "5.1.1 no such user")},
    )
    await _run(ctx, channel, rounds=6, owner="worker-1")
    attempts = _attempts(ctx, delivery_id)
    assert [outcome for outcome, _, _ in attempts] == ["retry", "retry", "sent"]
    assert attempts[0][1] == "[connect] connection refused"
    # the second: a accepted, b refused for good, c deferred — it will be retried (for c)
    assert attempts[1][1] == (
        "250 2.0.0 queued; refused c@acme.org: 451 4.2.1 mailbox busy; "
        "b@acme.org: 550 5.1.1 no such user"
    )
    assert attempts[2][1] == "250 2.0.0 queued"
    assert {worker for _, _, worker in attempts} == {"worker-1"}
    assert _row(ctx, delivery_id).attempts == len(attempts)


async def test_partial_and_failed_attempts(ctx, queued) -> None:
    partial_id, failed_id = queued(2)
    error = PermanentError("554 5.7.1 rejected", step="data", code=554, reply="554 5.7.1 rejected")
    channel = ScriptedChannel({"b@acme.org": (550, "5.1.1 no such user")}, error)
    await _run(ctx, channel, max_in_flight=1)
    [(outcome, detail, _)] = _attempts(ctx, partial_id)
    assert outcome == "partial" and detail.endswith("refused b@acme.org: 550 5.1.1 no such user")
    [(outcome, detail, _)] = _attempts(ctx, failed_id)
    assert (outcome, detail) == ("failed", "[data] 554 5.7.1 rejected")


async def test_giving_up_is_a_failed_attempt(ctx, queued) -> None:
    ctx.settings.retry_max_age_s = 0.0
    [delivery_id] = queued()
    await _run(ctx, ScriptedChannel(RetryableError("timed out", step="connect")))
    [(outcome, detail, _)] = _attempts(ctx, delivery_id)
    assert outcome == "failed" and detail == "gave up after 1 attempts: [connect] timed out"


async def test_paced_sends_and_manual_retries_are_not_attempts(ctx, queued, cli) -> None:
    first, second = queued(2)
    await _run(ctx, ScriptedChannel(PermanentError("550 nope", step="rcpt"), limit=1))
    rows = {first: _row(ctx, first), second: _row(ctx, second)}
    [paced] = [i for i, row in rows.items() if row.status == "queued"]
    [failed] = [i for i, row in rows.items() if row.status == "failed"]
    assert _attempts(ctx, paced) == []
    assert cli("deliveries", "retry", str(failed)).code == 0
    assert [outcome for outcome, _, _ in _attempts(ctx, failed)] == ["failed"]


def test_a_batch_writes_its_attempts_in_one_statement(ctx, queued) -> None:
    from sqlalchemy import event

    ids = queued(5)
    deleted = ids.pop()
    claimed = outbox.claim(ctx.engine, owner="w", limit=10, lease_s=60)
    with ctx.session() as session:  # a tenant removed meanwhile: no row, no error
        session.delete(session.get(Delivery, deleted))
        session.commit()
    outcomes = [
        outbox.Outcome(
            id=d.id,
            status="sent",
            pending=[],
            results={},
            attempt="sent",
            detail=f"250 ok {d.id}",
        )
        for d in claimed
    ]
    outcomes[0] = outbox.Outcome(
        id=outcomes[0].id, status="queued", pending=[], results={}, attempts_delta=-1
    )  # paced: no attempt
    statements: list[tuple[str, bool]] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement.split()[0].upper(), executemany))

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        outbox.record(ctx.engine, outcomes, owner="w")
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    assert [s for s in statements if s[0] in ("UPDATE", "INSERT")] == [
        ("UPDATE", True),
        ("INSERT", True),
    ]
    assert _attempts(ctx, ids[0]) == []
    for delivery_id in ids[1:]:
        assert _attempts(ctx, delivery_id) == [("sent", f"250 ok {delivery_id}", "w")]
