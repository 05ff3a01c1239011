"""The webhook channel end to end: emit → the real Worker → a local receiver that checks the
signature (tests/support/webhook_receiver.py), on both databases.

Retries are driven by the worker's own loop: each pass sends what is due, and the test waits for
the delivery's state, not for a time.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlmodel import col, select

from core.catalog import get_event, sample
from core.errors import ValidationError
from core.models.audit import AuditEntry
from core.models.delivery import Delivery, DeliveryAttempt, EventRecord
from core.models.tenancy import NotificationSettingsUpdate
from core.models.webhooks import WebhookCreate, WebhookTarget
from core.pipeline.contents import message_of
from core.pipeline.worker import Worker
from core.services.audit import Actor
from core.services.notifications import update_notification_settings
from core.services.webhooks import add_webhook, remove_webhook, test_webhook
from tests.support.factories import emit_event, make_configured_tenant, make_webhook
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "whsec-Kq7-never-shown-9f2"
TENANT_TOKEN = Actor(name="acme token", source="api", tenant_scoped=True)


@pytest.fixture
def fast_retries(ctx):
    ctx.settings.retry_base_s = 0.01
    return ctx


def _webhook_rows(ctx) -> list[Delivery]:
    with ctx.session() as session:
        query = select(Delivery).where(Delivery.channel == "webhook").order_by(col(Delivery.id))
        return list(session.exec(query))


def _attempts(ctx, delivery_id: int) -> list[DeliveryAttempt]:
    with ctx.session() as session:
        query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
        return list(session.exec(query.order_by(col(DeliveryAttempt.id))))


async def _drain(ctx, *, passes: int = 200) -> None:
    """Run the worker until no webhook delivery is queued or due soon (a retry's backoff is
    a few hundredths of a second here); a delivery held back longer stays queued."""
    worker = Worker(ctx)
    try:
        for _ in range(passes):
            await worker.run_once()
            now = datetime.now(UTC)
            waiting = [
                row
                for row in _webhook_rows(ctx)
                if row.status in ("queued", "sending")
                and row.next_attempt_at.replace(tzinfo=UTC) < now + timedelta(seconds=5)
            ]
            if not waiting:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("webhook deliveries still queued")
    finally:
        await worker.close()


def _acme(ctx, *, toggles=("notify_queue_call_lost",)):
    with ctx.session() as session:
        return make_configured_tenant(session, ctx.box, toggles=toggles)


async def test_signed_post_reaches_the_receiver_with_the_event(ctx) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/a"), secret=SECRET)
            result = emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        [hook] = [d for d in result.deliveries if d.channel == "webhook"]
        assert hook.target == receiver.url("/a") and hook.status == "queued"
        await _drain(ctx)
        [post] = receiver.received("/a")
    assert post.verified is True
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Mailbell-Timestamp"].isdigit()
    body = post.json
    assert set(body) == {"event", "tenant", "data", "delivery_id", "occurred_at"}
    assert body["event"] == "QUEUE_CALL_LOST" and body["tenant"] == "acme"
    assert body["delivery_id"] == hook.id
    assert body["data"] == get_event("QUEUE_CALL_LOST").sample_payload().model_dump(mode="json")
    datetime.fromisoformat(body["occurred_at"])
    [row] = _webhook_rows(ctx)
    assert row.status == "sent" and row.reply is not None and "HTTP 200" in row.reply
    assert [a.outcome for a in _attempts(ctx, hook.id)] == ["sent"]


async def test_without_a_secret_no_signature_header_is_sent(ctx) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver() as receiver:
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/plain"))
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        [post] = receiver.received("/plain")
    assert "X-Mailbell-Signature" not in post.headers
    assert "X-Mailbell-Timestamp" in post.headers


async def test_a_wrong_secret_is_refused_by_the_receiver_and_fails(ctx) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver(secret="the receiver's own") as receiver:
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/a"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        [post] = receiver.received()
    assert post.verified is False
    [row] = _webhook_rows(ctx)
    assert row.status == "failed" and "401" in (row.last_error or "")


async def test_503_then_200_is_retried_and_sent_with_both_attempts_logged(fast_retries) -> None:
    ctx = fast_retries
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.script("/a", 503, 200)
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/a"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        posts = receiver.received("/a")
    assert [p.status for p in posts] == [503, 200]
    assert all(p.verified for p in posts)
    assert posts[0].body == posts[1].body  # the same event and delivery id: idempotent receivers
    [row] = _webhook_rows(ctx)
    assert row.status == "sent" and row.attempts == 2
    attempts = _attempts(ctx, row.id or 0)
    assert [a.outcome for a in attempts] == ["retry", "sent"]
    assert "HTTP 503" in (attempts[0].detail or "")


async def test_410_is_a_permanent_failure(fast_retries) -> None:
    ctx = fast_retries
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.script("/gone", 410)
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/gone"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        assert len(receiver.received("/gone")) == 1
    [row] = _webhook_rows(ctx)
    assert row.status == "failed" and "HTTP 410" in (row.last_error or "")
    assert [a.outcome for a in _attempts(ctx, row.id or 0)] == ["failed"]


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_retry_after_sets_the_next_attempt(fast_retries, form: str) -> None:
    ctx = fast_retries
    tenant = _acme(ctx)
    later = datetime.now(UTC) + timedelta(seconds=120)
    header = "120" if form == "seconds" else format_datetime(later, usegmt=True)
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.script("/busy", (429, {"Retry-After": header}))
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/busy"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        before = datetime.now(UTC)
        await _drain(ctx)
        assert len(receiver.received("/busy")) == 1
    [row] = _webhook_rows(ctx)
    assert row.status == "queued"
    # The backoff alone would be a fraction of a second: the receiver's two minutes were used.
    assert row.next_attempt_at.replace(tzinfo=UTC) >= before + timedelta(seconds=100)
    [attempt] = _attempts(ctx, row.id or 0)
    assert attempt.outcome == "retry" and "HTTP 429" in (attempt.detail or "")


async def test_routing_per_owner_and_event_filter(ctx, actor) -> None:
    with ctx.session() as session:
        acme = make_configured_tenant(session, ctx.box, slug="acme")
        globex = make_configured_tenant(
            session,
            ctx.box,
            slug="globex",
            toggles=("notify_queue_call_lost", "notify_queue_sla_breached"),
        )
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=None,
            changes=NotificationSettingsUpdate.parse({"notify_disk_low": True}, system=True),
            actor=actor,
        )
    async with WebhookReceiver(secret=SECRET) as receiver:
        with ctx.session() as session:
            lost = make_webhook(
                session, ctx.box, acme, receiver.url("/acme-lost"), secret=SECRET,
                events=["queue_call_lost"],
            )  # fmt: skip
            make_webhook(
                session, ctx.box, acme, receiver.url("/acme-sla"), secret=SECRET,
                events=["QUEUE_SLA"],
            )  # fmt: skip
            make_webhook(session, ctx.box, globex, receiver.url("/globex"), secret=SECRET)
            make_webhook(session, ctx.box, None, receiver.url("/system"), secret=SECRET)
            emit_event(session, ctx.box, acme, "QUEUE_CALL_LOST")
            emit_event(session, ctx.box, acme, "QUEUE_SLA")  # acme's toggle is off: no POST
            emit_event(session, ctx.box, globex, "QUEUE_SLA")
            emit_event(session, ctx.box, None, "DISK_LOW")
        await _drain(ctx)
        got = {(r.path, r.json["event"], r.json["tenant"]) for r in receiver.received()}
        assert got == {
            ("/acme-lost", "QUEUE_CALL_LOST", "acme"),
            ("/globex", "QUEUE_SLA", "globex"),
            ("/system", "DISK_LOW", None),
        }
        # Removed: the next event no longer goes there (emit's cached routes saw the change).
        with ctx.session() as session:
            remove_webhook(session=session, tenant=acme, webhook_id=lost.id, actor=actor)
            result = emit_event(session, ctx.box, acme, "QUEUE_CALL_LOST")
        assert [d.channel for d in result.deliveries] == ["email"]


async def test_a_removed_target_fails_its_queued_deliveries(ctx, actor) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        with ctx.session() as session:
            hook = make_webhook(session, ctx.box, tenant, receiver.url("/a"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
            remove_webhook(session=session, tenant=tenant, webhook_id=hook.id, actor=actor)
        await _drain(ctx)
        assert receiver.received() == []
    [row] = _webhook_rows(ctx)
    assert row.status == "failed" and "removed" in (row.last_error or "")


async def test_the_secret_is_in_no_row_log_or_audit_entry(ctx, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.script("/a", 503, 200)
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/a"), secret=SECRET)
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        ctx.settings.retry_base_s = 0.01
        await _drain(ctx)
        assert len(receiver.received()) == 2
    with ctx.session() as session:
        stored = [
            *(row.model_dump_json() for row in session.exec(select(Delivery))),
            *(row.model_dump_json() for row in session.exec(select(DeliveryAttempt))),
            *(row.model_dump_json() for row in session.exec(select(AuditEntry))),
            *(
                row.model_dump_json(exclude={"payload_enc"})
                for row in session.exec(select(EventRecord))
            ),
            *(row.model_dump_json() for row in session.exec(select(WebhookTarget))),
        ]
        messages = [
            ctx.box.decrypt_bytes(message_of(session, row.id or 0)) for row in _webhook_rows(ctx)
        ]
        [audit] = session.exec(
            select(AuditEntry).where(AuditEntry.action == "webhook.create")
        ).all()
    assert audit.fields == ["events", "secret", "url"]  # the secret's name, never its value
    for text in [*stored, caplog.text]:
        assert SECRET not in text
    assert all(SECRET.encode() not in message for message in messages)


def test_tenant_scoped_actors_are_fenced_at_save(ctx, monkeypatch) -> None:
    tenant = _acme(ctx)
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")  # public addresses only
    with ctx.session() as session:
        for url in ("http://127.0.0.1:8080/hook", "https://10.1.2.3/hook", "http://localhost/"):
            with pytest.raises(ValidationError) as refused:
                add_webhook(
                    session=session, box=ctx.box, tenant=tenant,
                    data=WebhookCreate(url=url), actor=TENANT_TOKEN,
                )  # fmt: skip
            assert refused.value.field == "url"
            assert "MAILBELL_TENANT_SMTP_NETWORKS" in refused.value.message
        # A system-level actor may point a webhook inside the network.
        added = add_webhook(
            session=session, box=ctx.box, tenant=tenant,
            data=WebhookCreate(url="http://127.0.0.1:8080/hook"), actor=Actor("ops", "cli"),
        )  # fmt: skip
    assert added.url == "http://127.0.0.1:8080/hook"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_fenced_targets_are_checked_again_at_connect_time(ctx, monkeypatch, host) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        url = receiver.url("/fenced").replace("127.0.0.1", host)
        with ctx.session() as session:
            # Allowed when added (the tests' fence admits loopback) …
            add_webhook(
                session=session, box=ctx.box, tenant=tenant,
                data=WebhookCreate(url=url, secret=SECRET), actor=TENANT_TOKEN,
            )  # fmt: skip
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        assert len(receiver.received()) == 1
        # … refused once the fence no longer admits it: no connection is made.
        monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")
        with ctx.session() as session:
            emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
        await _drain(ctx)
        assert len(receiver.received()) == 1
    first, second = _webhook_rows(ctx)
    assert first.status == "sent"
    assert second.status == "failed" and "not allowed" in (second.last_error or "")


async def test_test_webhook_posts_the_sample_signed_without_a_delivery(ctx) -> None:
    tenant = _acme(ctx)
    async with WebhookReceiver(secret=SECRET) as receiver:
        receiver.script("/b", 200, 410)
        with ctx.session() as session:
            hook = make_webhook(
                session, ctx.box, tenant, receiver.url("/b"), secret=SECRET, events=["QUEUE_SLA"]
            )
        ok = await test_webhook(ctx=ctx, tenant=tenant, webhook_id=hook.id)
        gone = await test_webhook(
            ctx=ctx, tenant=tenant, webhook_id=hook.id, event="QUEUE_CALL_LOST"
        )
        first, second = receiver.received("/b")
    assert ok.ok is True and ok.status == 200
    assert gone.ok is False and gone.status == 410 and "410" in gone.detail
    assert first.verified and first.json["delivery_id"] is None
    assert first.json["event"] == "QUEUE_SLA" and second.json["event"] == "QUEUE_CALL_LOST"
    assert first.json["data"]["queue_name"] == sample("QUEUE_SLA")["queue_name"]
    assert _webhook_rows(ctx) == []


async def test_the_data_is_the_whole_payload_as_the_email_gets_it(ctx) -> None:
    """A welcome's password goes to the owner's webhook as it goes to the email (the event row
    keeps the redacted copy): see core/channels/webhook/render.py."""
    tenant = _acme(ctx, toggles=("notify_user_registration",))
    async with WebhookReceiver(secret=SECRET) as receiver:
        with ctx.session() as session:
            make_webhook(session, ctx.box, tenant, receiver.url("/users"), secret=SECRET)
            result = emit_event(session, ctx.box, tenant, "USER_CREATION")
            shown = session.get(EventRecord, result.event_id).payload
        await _drain(ctx)
        [post] = receiver.received("/users")
    assert post.json["data"]["password"] == sample("USER_CREATION")["password"]
    assert shown["password"] == "(redacted)"
