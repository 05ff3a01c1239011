"""Digests for bursts: the emit side's state machine and the worker's closing, through the real
emit, the real Worker and an aiosmtpd capture server, on SQLite and PostgreSQL.

Time is a test clock (emit's and the claim's `utcnow`), so windows of ten minutes are crossed
without waiting.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from core.models._common import utcnow
from core.models.delivery import DigestBurst
from core.pipeline.emit import prepare_emit, write_emits
from core.pipeline.worker import Worker
from tests.support.digests import (
    Rendered,
    caller,
    deliveries,
    digests,
    event_marks,
    held,
    lost_call,
    record_digests,
    set_policy,
    singles,
)
from tests.support.factories import (
    TESTER,
    configure_tenant,
    emit_event,
    make_configured_tenant,
)


@pytest.fixture(autouse=True)
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[Rendered]:
    return record_digests(monkeypatch)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr("core.pipeline.emit_write.utcnow", made)
    monkeypatch.setattr("core.pipeline.outbox.utcnow", made)
    return made


@pytest.fixture
def acme(ctx, session, smtp_server):
    tenant = make_configured_tenant(session, ctx.box, smtp=smtp_server)
    set_policy(session, ctx.box, tenant, "3/10m")
    return tenant


def _emit(ctx, session, tenant, number: int) -> None:
    emit_event(session, ctx.box, tenant, data=lost_call(number))


def _work(ctx) -> None:
    async def run() -> None:
        worker = Worker(ctx)
        try:
            await worker.run_once()
        finally:
            await worker.close()

    asyncio.run(run())


def _burst(session) -> DigestBurst:
    session.expire_all()
    [row] = session.exec(select(DigestBurst)).all()
    return row


def _captured(smtp_server) -> list[str]:
    return [mark for message in smtp_server.messages for mark in event_marks(message.data)]


def test_the_first_n_go_alone_the_rest_wait_for_one_digest(ctx, session, acme, clock, smtp_server):
    for number in range(8):
        _emit(ctx, session, acme, number)
    rows = deliveries(session)
    assert [r.status for r in singles(rows)] == ["queued"] * 3
    [digest] = digests(rows)
    assert len(held(rows)) == 5
    assert {r.digest_id for r in held(rows)} == {digest.id}
    assert all(r.pending == [] for r in held(rows))
    # The digest is due when the window closes; until then only the singles go.
    assert digest.status == "queued" and digest.next_attempt_at == clock.now + timedelta(minutes=10)
    assert digest.target == singles(rows)[0].target and digest.pending == ["ops@acme.org"]
    _work(ctx)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(3)]
    assert deliveries(session)[-1].status == "held"

    clock.advance(600)
    _work(ctx)
    marks = _captured(smtp_server)
    assert sorted(marks) == [caller(n) for n in range(8)]  # each event exactly once
    rows = deliveries(session)
    assert [r.status for r in digests(rows)] == ["sent"]
    assert len(smtp_server.messages) == 4
    # The log names the digest's Message-ID, as it does a single message's.
    [sent_digest] = digests(rows)
    assert sent_digest.message_id is not None
    assert any(sent_digest.message_id in message.data.decode() for message in smtp_server.messages)
    burst = _burst(session)
    assert burst.digest_id is None and burst.held_last_window


def test_a_burst_goes_on_until_a_quiet_window(ctx, session, acme, clock, smtp_server, rendered):
    for number in range(4):  # 3 singles, 1 held
        _emit(ctx, session, acme, number)
    clock.advance(600)
    _work(ctx)  # the first window's digest
    clock.advance(300)  # within a window of the last one's end: the burst goes on
    _emit(ctx, session, acme, 4)
    rows = deliveries(session)
    assert rows[-1].status == "held" and len(digests(rows)) == 2
    second = digests(rows)[1]
    assert second.next_attempt_at == clock.now + timedelta(minutes=10)
    clock.advance(600)
    _work(ctx)
    assert [r.total for r in rendered] == [1, 1]
    # A window with nothing in it ends the burst: the next event goes alone again.
    clock.advance(700)
    _emit(ctx, session, acme, 5)
    assert deliveries(session)[-1].status == "queued"
    _work(ctx)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(6)]
    assert len(smtp_server.messages) == 6  # 4 singles, 2 digests


def test_a_window_replaced_before_its_digest_closed_keeps_its_span(
    ctx, session, acme, clock, smtp_server, rendered
):
    opened = clock.now
    for number in range(5):
        _emit(ctx, session, acme, number)
    clock.advance(650)  # the worker was down at the window's end
    _emit(ctx, session, acme, 5)  # continues the burst into a new window and digest
    first, second = digests(deliveries(session))
    _work(ctx)
    [closed] = rendered
    assert closed.delivery_id == first.id and closed.total == 2
    assert (closed.window_start, closed.window_end) == (opened, opened + timedelta(minutes=10))
    clock.advance(600)
    _work(ctx)
    assert rendered[1].delivery_id == second.id
    assert rendered[1].window_start == opened + timedelta(seconds=650)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(6)]
    # The replaced window's own row went with its digest; the burst's row stays.
    assert session.exec(select(DigestBurst.burst_key)).all() == [_burst(session).burst_key]


def test_policy_off_holds_nothing_and_reads_no_burst(ctx, session, smtp_server, clock):
    tenant = make_configured_tenant(session, ctx.box, smtp=smtp_server)
    set_policy(session, ctx.box, tenant, "off")
    statements: list[str] = []
    engine = ctx.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for number in range(5):
            _emit(ctx, session, tenant, number)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert not [s for s in statements if "digest_burst" in s]
    assert [r.status for r in deliveries(session)] == ["queued"] * 5
    assert session.exec(select(DigestBurst)).all() == []


def test_the_operator_default_applies_to_owners_without_a_policy(
    ctx, session, smtp_server, clock, monkeypatch
):
    monkeypatch.setenv("MAILBELL_DIGEST_DEFAULT", "3/10m")
    tenant = make_configured_tenant(session, ctx.box, smtp=smtp_server)
    for number in range(4):
        _emit(ctx, session, tenant, number)
    assert [r.status for r in deliveries(session) if not r.is_digest] == ["queued"] * 3 + ["held"]


def test_mail_to_the_payload_address_is_never_held(ctx, session, smtp_server, clock):
    from core.catalog import sample

    tenant = make_configured_tenant(
        session, ctx.box, smtp=smtp_server, toggles=("notify_user_registration",)
    )
    set_policy(session, ctx.box, tenant, "1/10m", event="USER_CREATION")
    for number in range(3):  # each welcome goes to the new user's own address
        data = {**sample("USER_CREATION"), "email": f"user{number}@acme.example"}
        emit_event(session, ctx.box, tenant, "USER_CREATION", data=data)
    assert [r.status for r in deliveries(session)] == ["queued"] * 3
    for _ in range(3):  # without one, it goes to the tenant's recipients: a burst
        data = {**sample("USER_CREATION"), "email": None}
        emit_event(session, ctx.box, tenant, "USER_CREATION", data=data)
    statuses = [r.status for r in deliveries(session) if not r.is_digest]
    assert statuses == ["queued"] * 4 + ["held"] * 2


def test_each_owner_has_its_own_bursts(ctx, session, smtp_servers, clock):
    acme = make_configured_tenant(session, ctx.box, smtp=smtp_servers())
    globex = make_configured_tenant(session, ctx.box, slug="globex", smtp=smtp_servers())
    for tenant in (acme, globex):
        set_policy(session, ctx.box, tenant, "2/10m")
    for number in range(3):
        _emit(ctx, session, acme, number)
    for number in range(2):
        _emit(ctx, session, globex, 10 + number)
    rows = deliveries(session)
    by_tenant = {
        tenant.id: [r.status for r in rows if r.tenant_id == tenant.id and not r.is_digest]
        for tenant in (acme, globex)
    }
    assert by_tenant == {acme.id: ["queued", "queued", "held"], globex.id: ["queued", "queued"]}
    # A tenant's other recipients are another burst of its own.
    configure_tenant(session, ctx.box, acme, recipients=("noc@acme.org",))
    _emit(ctx, session, acme, 3)
    assert deliveries(session)[-1].status == "queued"


def test_events_written_together_follow_the_same_rules(ctx, session, acme, clock, smtp_server):
    """The API writes events posted together in one batch: the burst counts them in order."""
    batch = [
        prepare_emit(
            session=session, box=ctx.box, tenant=acme, event="QUEUE_CALL_LOST", data=lost_call(n)
        )
        for n in range(6)
    ]
    results = write_emits(session, batch)  # type: ignore[arg-type]
    session.commit()
    statuses = [[d.status for d in result.deliveries] for result in results]
    assert statuses == [["queued"]] * 3 + [["queued", "held"], ["held"], ["held"]]
    clock.advance(600)
    _work(ctx)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(6)]


def test_a_digest_closed_by_a_worker_that_died_is_sent_once(ctx, session, acme, clock, smtp_server):
    from core.pipeline import outbox
    from core.pipeline.digest_close import close_claimed

    for number in range(5):
        _emit(ctx, session, acme, number)
    _work(ctx)
    clock.advance(600)
    # A worker claims the digest, closes it and dies before sending (its lease runs out).
    claimed = outbox.claim(ctx.engine, owner="dead", limit=10, lease_s=0)
    ready, ended = close_claimed(ctx.engine, ctx.box, claimed)
    assert [d.id for d in ready] == [d.id for d in digests(deliveries(session))] and not ended
    assert all(d.is_digest for d in ready)  # the claim says what it holds
    _work(ctx)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(5)]
    assert len(smtp_server.messages) == 4


def test_a_digest_that_cannot_be_rendered_fails_and_can_be_retried(
    ctx, session, acme, clock, smtp_server, monkeypatch
):
    from core.channels.email.render import EmailRenderer
    from core.errors import MailbellError
    from core.services.deliveries import retry_delivery

    working = EmailRenderer.digest

    def broken(self, draft):
        raise MailbellError("template DIGEST: 'items' is undefined")

    for number in range(4):
        _emit(ctx, session, acme, number)
    clock.advance(600)
    monkeypatch.setattr(EmailRenderer, "digest", broken)
    _work(ctx)
    [digest] = digests(deliveries(session))
    assert digest.status == "failed" and "'items' is undefined" in (digest.last_error or "")
    assert _burst(session).digest_id is None  # nothing more attaches to it
    monkeypatch.setattr(EmailRenderer, "digest", working)
    retry_delivery(session=session, box=ctx.box, delivery_id=digest.id, actor=TESTER)
    _work(ctx)
    assert sorted(_captured(smtp_server)) == [caller(n) for n in range(4)]


def test_a_digest_waiting_for_its_window_is_no_backlog(ctx, session, smtp_server, clock):
    from core.health.checks.deliveries import queues

    tenant = make_configured_tenant(session, ctx.box, smtp=smtp_server)
    set_policy(session, ctx.box, tenant, "3/1h")
    for number in range(5):
        _emit(ctx, session, tenant, number)
    _work(ctx)  # the singles

    def late(after: timedelta) -> int:
        # The backlog check's question `after` from now, with its 10-minute threshold.
        late_at = clock.now + after - timedelta(minutes=10)
        found = queues(session.connection(), late_at=late_at, retry_at=late_at)
        session.rollback()
        return found[tenant.id].late

    assert late(timedelta(minutes=30)) == 0
    assert late(timedelta(minutes=71)) == 1  # past its window's end by more than 10 minutes
