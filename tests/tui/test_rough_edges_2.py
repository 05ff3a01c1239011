"""Rough edges of the TUI found at 80x24 (issue #18, item 4): page keys whatever has focus, Esc on
a filled form asks, labels instead of internal names, help and footer, Enter and empty tables."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from core.services.tenants import get_tenant
from tests.support.factories import emit_event
from tests.tui.conftest import screen_text, seed, settle


def footer_keys(app: Any) -> dict[str, str]:
    """The footer's keys as shown: key display → description."""
    from textual.widgets._footer import FooterKey

    return {key.key_display or key.key: key.description for key in app.screen.query(FooterKey)}


async def test_ctrl_e_opens_the_test_email_while_the_recipient_input_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#recipient-input", Input)
        field.focus()
        await pilot.press(*"ops@")
        await pilot.pause()
        assert app.focused is field
        assert "Test email" in footer_keys(app).values()
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert type(app.screen).__name__ == "TestEmailScreen"


async def test_enter_is_in_the_footer_while_a_table_with_rows_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    for start, slug, action in (
        ("servers", "acme", "Edit"),
        ("templates", "acme", "Edit"),
        ("accounts", "acme", None),  # acme has no account: nothing to open
        ("deliveries", "acme", None),
    ):
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert type(app.focused).__name__ == "DataTable", start
            assert footer_keys(app).get("⏎") == action, start


async def test_enter_on_a_row_opens_it_and_a_filter_keeps_its_enter(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        emit_event(session, ctx.box, get_tenant(session=session, slug="acme"), "QUEUE_SLA")
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert footer_keys(app).get("⏎") == "Details"
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveryDetailScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash")  # the status filter: Enter opens its list, not a delivery
        await pilot.pause()
        assert "⏎" not in footer_keys(app)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveriesScreen"
        assert app.screen.query_one("#status-filter").expanded


async def test_empty_tables_say_why_and_what_to_do(ctx, actor, make_app) -> None:
    from textual.widgets import Select

    seed(ctx, actor)
    cases = (
        ("servers", "globex", "No mail servers for tenant globex yet — press a to add one"),
        ("accounts", "globex", "an account needs a mail server first"),
        ("deliveries", "acme", "No deliveries for acme yet"),
    )
    for start, slug, words in cases:
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert words in screen_text(app), start
            assert app.screen.query_one(f"#{start}-empty").display
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#status-filter", Select).value = "failed"
        await settle(pilot)
        text = screen_text(app)
        assert "No deliveries for acme match the filter (status failed) — press / to change" in text
    app = make_app(tenant_slug="acme", start="servers")  # a table with rows shows no such line
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#servers-empty").display
        assert "No mail servers" not in screen_text(app)


async def test_esc_on_a_filled_server_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    from core.services.mail_servers import list_mail_servers

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        await pilot.press("escape")  # nothing changed: closes at once
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"

        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#host", Input).value = "smtp.changed.example"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert "Unsaved changes are lost" in screen_text(app)
        await pilot.press("escape")  # keep editing: the typed value is still there
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert app.screen.query_one("#host", Input).value == "smtp.changed.example"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#ok")  # Discard
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        assert [s.host for s in list_mail_servers(session=session, tenant=acme)] == [
            "smtp.acme.example"
        ]


async def test_esc_on_a_filled_account_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountFormScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"

        await pilot.press("a")
        await settle(pilot)
        await pilot.press(*"sales@acme.example")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")  # discard
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"
        assert "sales@acme.example" not in screen_text(app)
