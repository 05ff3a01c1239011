"""`POST /api/events`: durable 202 with delivery ids, scopes, idempotency, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlmodel import col, select

from core.catalog import sample
from core.context import Context
from core.models.delivery import Delivery, EventRecord
from core.pipeline.worker import Worker
from tests.api.conftest import DISK_LOW, QUEUE_CALL_LOST, ApiClient, smtp_settings
from tests.support.smtp_servers import SmtpTestServer

EVENTS = "/api/events"
SETTINGS = "/api/tenant/notification"


async def _configure(api: ApiClient, server: SmtpTestServer) -> None:
    answer = await api.post(
        SETTINGS,
        smtp_settings(
            server, recipients="ops@acme.example,noc@acme.example", notify_queue_call_lost=True
        ),
    )
    assert answer.status == 200, answer.body


async def test_event_is_queued_and_committed_before_202(
    api: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    await _configure(api, smtp_server)
    answer = await api.post(EVENTS, {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST})
    assert answer.status == 202, answer.body
    assert answer.body["duplicate"] is False
    (delivery,) = answer.body["deliveries"]
    assert delivery["status"] == "queued"
    assert delivery["channel"] == "email"
    assert delivery["tenant"] == "acme"
    assert delivery["target"] == "ops@acme.example,noc@acme.example"
    with ctx.session() as session:  # a fresh session: the rows are committed
        row = session.get(Delivery, delivery["id"])
        assert row is not None and row.status == "queued"
        assert session.get(EventRecord, answer.body["event_id"]) is not None


async def test_queued_event_is_delivered_by_the_worker(
    api: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    await _configure(api, smtp_server)
    answer = await api.post(EVENTS, {"event": "queue_call_lost", "data": QUEUE_CALL_LOST})
    assert answer.status == 202
    worker = Worker(ctx)
    try:
        stats = await worker.run_once()
    finally:
        await worker.close()
    assert stats.sent == 1
    (message,) = smtp_server.handler.wait_for(1)
    assert sorted(message.rcpt_tos) == ["noc@acme.example", "ops@acme.example"]
    assert "Sales" in (message.subject or "")


async def test_repeated_key_queues_nothing_new(
    api: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    await _configure(api, smtp_server)
    body = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "call-4711"}
    first = await api.post(EVENTS, body)
    second = await api.post(EVENTS, body)
    assert (first.status, second.status) == (202, 202)
    assert second.body["duplicate"] is True
    assert second.body["event_id"] == first.body["event_id"]
    assert [d["id"] for d in second.body["deliveries"]] == [
        d["id"] for d in first.body["deliveries"]
    ]
    with ctx.session() as session:
        assert len(session.exec(select(Delivery)).all()) == 1


async def test_disabled_event_is_suppressed_and_unconfigured_fails(api: ApiClient) -> None:
    suppressed = await api.post(EVENTS, {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST})
    assert suppressed.status == 202
    assert suppressed.body["deliveries"][0]["status"] == "suppressed"
    voicemail = sample("VOICEMAIL_RECEIVED")
    failed = await api.post(EVENTS, {"event": "VOICEMAIL_RECEIVED", "data": voicemail})
    assert failed.status == 202, failed.body
    (delivery,) = failed.body["deliveries"]
    assert delivery["status"] == "failed"
    assert "not configured" in delivery["last_error"]


async def test_system_event_needs_a_system_token(
    api: ApiClient, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    tenant = await api.post(EVENTS, {"event": "DISK_LOW", "data": DISK_LOW})
    assert (tenant.status, tenant.body["field"]) == (403, "event")
    assert "system token" in tenant.body["error"]
    named = await api.post(
        f"{EVENTS}?tenant=acme", {"event": "DISK_LOW", "data": DISK_LOW}, token="system"
    )
    assert (named.status, named.body["field"]) == (400, "event")
    assert db_dump() == before
    system = await api.post(EVENTS, {"event": "DISK_LOW", "data": DISK_LOW}, token="system")
    assert system.status == 202, system.body
    assert system.body["deliveries"][0]["tenant"] is None


async def test_system_token_posts_tenant_events_with_tenant_parameter(
    api: ApiClient, ctx: Context
) -> None:
    body = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
    bare = await api.post(EVENTS, body, token="system")
    assert (bare.status, bare.body["field"]) == (400, "tenant")
    named = await api.post(f"{EVENTS}?tenant=globex", body, token="system")
    assert named.status == 202
    assert named.body["deliveries"][0]["tenant"] == "globex"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": QUEUE_CALL_LOST}, "event"),
        ({"event": "NO_SUCH_EVENT", "data": {}}, "event"),
        ({"event": 12, "data": {}}, "event"),
        ({"event": "QUEUE_CALL_LOST", "data": {"queue_name": "Sales"}}, "data"),
        ({"event": "QUEUE_CALL_LOST", "data": [1, 2]}, "data"),
        ({"event": "QUEUE_CALL_LOST", "data": "text"}, "data"),
        ({"event": "QUEUE_CALL_LOST", "data": {**QUEUE_CALL_LOST, "waiting_seconds": "long"}},
         "data"),
        ({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": 5}, "key"),
        ({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "x" * 201}, "key"),
        ({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "tenant": "acme"}, "tenant"),
    ],
)  # fmt: skip
async def test_bad_events_are_400_and_record_nothing(
    api: ApiClient, db_dump: Callable[[], str], body: dict[str, object], field: str
) -> None:
    before = db_dump()
    answer = await api.post(EVENTS, body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field, answer.body
    assert db_dump() == before


async def test_unknown_event_lists_the_valid_names(api: ApiClient) -> None:
    answer = await api.post(EVENTS, {"event": "NO_SUCH_EVENT", "data": {}})
    assert "QUEUE_CALL_LOST" in answer.body["error"]


async def test_event_body_over_one_mib_is_413(
    api: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    await _configure(api, smtp_server)
    ctx.settings.attachment_max_bytes = 1024  # events bodies: 1 MiB plus one attachment's base64
    data = {**QUEUE_CALL_LOST, "reason": "x" * (2 * 1024 * 1024)}
    answer = await api.post(EVENTS, {"event": "QUEUE_CALL_LOST", "data": data})
    assert answer.status == 413
    with ctx.session() as session:
        assert session.exec(select(col(EventRecord.id))).all() == []


async def test_chunked_body_over_one_mib_is_413(api: ApiClient, ctx: Context) -> None:
    ctx.settings.attachment_max_bytes = 1024  # events bodies: 1 MiB plus one attachment's base64

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"event": "QUEUE_CALL_LOST", "data": {"reason": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}}'

    answer = await api.request(
        "POST", EVENTS, data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status == 413
    with ctx.session() as session:
        assert session.exec(select(col(EventRecord.id))).all() == []
