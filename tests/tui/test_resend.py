"""Delivery detail: a partial delivery (coloured, filterable), its Resend dialog with an optional
address, and the copy's "resent from" link back to it."""

from __future__ import annotations

import re

from sqlmodel import col, select
from textual.widgets import DataTable, Input, Select

from core.models.delivery import Delivery
from tests.support.resend import REFUSED
from tests.support.smtp_servers import FaultHandler
from tests.tui.conftest import rows, screen_text, seed, settle
from tests.tui.test_deliveries import deliver, emit_for, enable, statuses


async def test_partial_then_resend_to_another_address(ctx, actor, make_app, smtp_servers) -> None:
    server = smtp_servers(handler=FaultHandler(rcpt={"boss@acme.example": REFUSED}))
    seed(ctx, actor, smtp_port=server.port)
    enable(ctx, actor, "acme", "notify_queue_sla_breached")
    (delivery_id,) = emit_for(ctx, "acme", "QUEUE_SLA")
    await deliver(ctx)  # boss@ refused for good, ops@ got it
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert statuses(app)[str(delivery_id)] == "partial"
        app.screen.query_one("#status-filter", Select).value = "partial"
        await settle(pilot)
        assert list(statuses(app)) == [str(delivery_id)]
        await pilot.press("r")  # a retry is refused: it is final
        await settle(pilot)
        assert any("is partial" in str(n.message) for n in app._notifications)

        await pilot.press("enter")
        await settle(pilot)
        detail = screen_text(app)
        assert "partial" in detail and "boss@acme.example" in detail and "550 5.1.1" in detail
        await pilot.press("s")
        await settle(pilot)
        address = app.screen.query_one("#resend-to", Input)
        dialog = screen_text(app)
        assert f"Resend delivery #{delivery_id}" in dialog and "its own recipients" in dialog
        address.value = "not an address"
        await pilot.press("enter")
        await settle(pilot)
        assert "not a valid email address" in screen_text(app)  # the dialog stays open
        address.value = "boss.new@acme.example"
        await pilot.press("enter")
        await settle(pilot)
        assert any("a copy of #" in str(n.message) for n in app._notifications)

        with ctx.session() as session:
            [copy] = session.exec(select(Delivery).where(Delivery.resent_from == delivery_id))
        assert (copy.target, copy.status) == ("boss.new@acme.example", "queued")
        await deliver(ctx)
        (_, again) = server.handler.wait_for(2)
        assert again.rcpt_tos == ["boss.new@acme.example"]

        # The copy's detail links back to its original ("o" opens it).
        await pilot.press("escape")
        app.screen.query_one("#status-filter", Select).value = Select.NULL
        await settle(pilot)
        table = app.screen.query_one("#deliveries", DataTable)
        assert rows(table)[0][0] == str(copy.id) and rows(table)[0][2] == "sent"
        await pilot.press("enter")
        await settle(pilot)
        assert re.search(rf"Resent from\s+#{delivery_id}\b", screen_text(app))
        await pilot.press("o")
        await settle(pilot)
        assert app.screen.delivery_id == delivery_id


async def test_cancel_sends_nothing(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    (delivery_id,) = emit_for(ctx, "acme", "QUEUE_SLA")  # toggle off: suppressed
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.delivery_id == delivery_id
    with ctx.session() as session:
        assert (
            session.exec(select(Delivery).where(col(Delivery.resent_from).is_not(None))).all() == []
        )
