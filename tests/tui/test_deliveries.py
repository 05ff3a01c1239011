"""Delivery log: statuses and filters, live refresh, details with the message and every attempt,
retry, paging."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, Select, Static

from core.catalog import sample
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.worker import Worker
from core.services.notifications import update_notification_settings
from core.services.tenants import get_tenant
from tests.support.factories import emit_event
from tests.support.smtp_servers import FaultHandler
from tests.tui.conftest import NEW_USER_PASSWORD, rows, screen_text, seed, settle


def emit_for(ctx, slug: str | None, event: str, **data) -> list[int]:
    """Emit `event` for tenant `slug` (None: the system), its sample with `data` over it."""
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        result = emit_event(session, ctx.box, tenant, event, {**sample(event), **data})
        return [d.id for d in result.deliveries if d.id is not None]


def enable(ctx, actor, slug: str, *toggles: str) -> None:
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug=slug),
            actor=actor,
            changes=NotificationSettingsUpdate.parse(dict.fromkeys(toggles, True), system=False),
        )


async def deliver(ctx) -> None:
    """What `mailbell worker --once` does."""
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


def statuses(app) -> dict[str, str]:
    table = app.screen.query_one("#deliveries", DataTable)
    return {row[0]: row[2] for row in rows(table)}


async def test_statuses_filters_and_live_refresh(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    suppressed = emit_for(ctx, "acme", "QUEUE_CALL_LOST")  # toggle off
    enable(ctx, actor, "acme", "notify_queue_call_lost")
    queued = emit_for(ctx, "acme", "QUEUE_CALL_LOST")
    failed = emit_for(ctx, "globex", "VOICEMAIL_RECEIVED")  # globex: no mail server
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = statuses(app)
        assert shown[str(suppressed[0])] == "suppressed"
        assert shown[str(queued[0])] == "queued"
        assert shown[str(failed[0])] == "failed"
        table = app.screen.query_one("#deliveries", DataTable)
        assert rows(table)[0][0] == str(failed[0])  # newest first
        assert "not configured" in rows(table)[0][8]
        await pilot.press("f")  # failed only
        await settle(pilot)
        assert list(statuses(app)) == [str(failed[0])]
        app.screen.query_one("#status-filter", Select).value = Select.NULL
        app.screen.query_one("#event-filter", Select).value = "QUEUE_CALL_LOST"
        await settle(pilot)
        assert set(statuses(app)) == {str(suppressed[0]), str(queued[0])}
        app.screen.query_one("#event-filter", Select).value = Select.NULL
        await settle(pilot)
        # a delivery made elsewhere (`mailbell serve`, the API) shows up on the next tick
        newer = emit_for(ctx, "acme", "QUEUE_CALL_LOST")
        app.screen.live_refresh()
        await settle(pilot)
        assert rows(table)[0][0] == str(newer[0])


async def test_retry_a_failed_delivery(ctx, actor, make_app, smtp_servers) -> None:
    refused = "550 5.1.1 mailbox unavailable"
    handler = FaultHandler(
        rcpt={"ops@acme.example": refused, "boss@acme.example": refused}, times=1
    )
    server = smtp_servers(handler=handler)
    seed(ctx, actor, smtp_port=server.port)
    enable(ctx, actor, "acme", "notify_queue_sla_breached")
    (delivery_id,) = emit_for(ctx, "acme", "QUEUE_SLA")
    await deliver(ctx)  # every recipient refused (550): failed
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert statuses(app)[str(delivery_id)] == "failed"
        await pilot.press("enter")
        await settle(pilot)
        detail = screen_text(app)
        assert "550 5.1.1 mailbox unavailable" in detail and "ops@acme.example" in detail
        await pilot.press("r")
        await settle(pilot)
        assert app.screen.details["status"] == "queued"
        # a retry by hand is not an attempt: the history still holds the one that failed
        attempts = rows(app.screen.query_one("#delivery-attempts", DataTable))
        assert [row[2] for row in attempts] == ["failed"] and "550 5.1.1" in attempts[0][3]
        await pilot.press("escape")
        await settle(pilot)
        assert statuses(app)[str(delivery_id)] == "queued"
        await deliver(ctx)  # the worker (`mailbell serve`) tries again: accepted now
        app.screen.live_refresh()
        await settle(pilot)
        assert statuses(app)[str(delivery_id)] == "sent"
    (message,) = server.messages
    assert sorted(message.rcpt_tos) == ["boss@acme.example", "ops@acme.example"]


async def test_retry_refuses_a_delivery_that_did_not_fail(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    enable(ctx, actor, "acme", "notify_queue_call_lost")
    (delivery_id,) = emit_for(ctx, "acme", "QUEUE_CALL_LOST")
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert any("only failed ones can be retried" in str(n.message) for n in app._notifications)
        assert statuses(app)[str(delivery_id)] == "queued"


async def test_details_show_the_message_with_the_new_users_password_masked(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    enable(ctx, actor, "acme", "notify_user_registration")
    (delivery_id,) = emit_for(
        ctx, "acme", "USER_CREATION", password=NEW_USER_PASSWORD, email="new.user@acme.example"
    )
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        message = str(app.screen.query_one("#delivery-message", Static).render())
        assert "Subject: Your new phone extension" in message
        assert "••••••" in message and NEW_USER_PASSWORD not in message
        assert f"Delivery #{delivery_id}" in screen_text(app)


def _bulk(ctx, count: int) -> list[int]:
    """One real failed delivery (globex: not configured) and `count` more rows like it."""
    (first,) = emit_for(ctx, "globex", "VOICEMAIL_RECEIVED")
    with ctx.session() as session:
        event = session.get(EventRecord, session.get(Delivery, first).event_id)
        added = [
            Delivery(
                event_id=event.id,
                tenant_id=event.tenant_id,
                event=event.name,
                target=f"user{i}@globex.example",
                status="failed",
                last_error="boom",
            )
            for i in range(count)
        ]
        session.add_all(added)
        session.commit()
        return [first, *(d.id for d in added)]


async def test_thousands_of_rows_load_page_by_page(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    _bulk(ctx, 1500)
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deliveries", DataTable)
        assert table.row_count == 100  # the first page
        table.move_cursor(row=99)
        await settle(pilot)
        assert table.row_count == 1100
        table.move_cursor(row=1099)
        await settle(pilot)
        assert table.row_count == 1501
        assert "1501 deliveries" in str(app.screen.query_one("#live", Static).render())


async def test_detail_lists_every_attempt(ctx, actor, make_app, smtp_servers) -> None:
    ctx.settings.retry_base_s = 0.01
    server = smtp_servers(handler=FaultHandler(data="451 4.3.0 try again later", times=1))
    seed(ctx, actor, smtp_port=server.port)
    enable(ctx, actor, "acme", "notify_queue_sla_breached")
    (delivery_id,) = emit_for(ctx, "acme", "QUEUE_SLA")
    worker = Worker(ctx, owner="tui-test-worker")
    try:
        for _ in range(20):
            await worker.run_once()
            if len(server.messages) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.close()
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert f"Delivery #{delivery_id}" in screen_text(app)
        attempts = rows(app.screen.query_one("#delivery-attempts", DataTable))
        assert [(row[0], row[2]) for row in attempts] == [("1", "retry"), ("2", "sent")]
        assert "451 4.3.0 try again later" in attempts[0][3]
        assert attempts[1][3].startswith("250 ") and "queued as M1" in attempts[1][3]
        assert {row[4] for row in attempts} == {"tui-test-worker"}


async def test_detail_without_attempts_says_so(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    emit_for(ctx, "globex", "VOICEMAIL_RECEIVED")  # not configured: failed before any send
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one("#delivery-attempts", DataTable)
        assert table.row_count == 0 and not table.display
        assert "Attempts — none yet" in screen_text(app)


async def test_more_loads_the_next_older_page(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    ids = _bulk(ctx, 1130)
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deliveries", DataTable)
        newest = sorted(ids, reverse=True)
        assert [int(row[0]) for row in rows(table)] == newest[:100]
        assert "100+ deliveries" in str(app.screen.query_one("#live", Static).render())
        await pilot.press("m")
        await settle(pilot)
        assert [int(row[0]) for row in rows(table)] == newest[:1100]  # no gap, no overlap
        assert table.cursor_row == 0  # the cursor stays where it was
        await pilot.press("m")
        await settle(pilot)
        assert [int(row[0]) for row in rows(table)] == newest
        assert "1131 deliveries" in str(app.screen.query_one("#live", Static).render())
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count == len(newest)
        assert any("No older deliveries" in str(n.message) for n in app._notifications)
