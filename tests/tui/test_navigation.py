"""Navigation: tenants and scope, pages, command palette, help, themes, `--tenant`."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from core.models.tenancy import NotificationSettingsUpdate
from core.services.notifications import update_notification_settings
from tests.tui.conftest import page_key, rows, seed, settle
from tests.tui.test_tui_keys_and_tables import help_text


async def test_tenants_list_effective_servers_and_follows_changes(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(start="tenants")  # the start page is the Overview
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        by_slug = {row[1]: row for row in rows(table)}
        assert set(by_slug) == {"System", "acme", "globex"}
        assert by_slug["acme"][4] == "tenant" and "smtp.acme.example" in by_slug["acme"][3]
        assert by_slug["globex"][4] == "not configured"
        summary = str(app.screen.query_one("#system-summary", Static).render())
        assert "shared" in summary and "applied to all tenants" not in summary

        with ctx.session() as session:
            update_notification_settings(
                tenant=None,
                session=session,
                box=ctx.box,
                actor=actor,
                changes=NotificationSettingsUpdate.parse(
                    {"apply_to_all_tenants": True}, system=True
                ),
            )
        await pilot.press("r")
        await settle(pilot)
        by_slug = {row[1]: row for row in rows(table)}
        assert by_slug["globex"][4] == "system"


async def test_picking_a_tenant_scopes_every_page(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        table.move_cursor(row=table.get_row_index("acme"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope == "acme" and app.sub_title == "tenant acme"
        assert type(app.screen).__name__ == "TenantsScreen"  # Enter picks; the page stays
        await pilot.press(page_key("servers"))
        await settle(pilot)
        servers = rows(app.screen.query_one("#servers", DataTable))
        assert [row[1] for row in servers] == ["acme relay"]
        # back to the system: the servers page reloads for the new scope
        await pilot.press(page_key("tenants"))
        await settle(pilot)
        await pilot.press("s")
        await pilot.press(page_key("servers"))
        await settle(pilot)
        assert app.scope is None
        assert [row[1] for row in rows(app.screen.query_one("#servers", DataTable))] == ["shared"]


async def test_every_page_opens_with_its_digit_and_the_nav_bar(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for page in app.pages:
            await pilot.press(page.key)
            await settle(pilot)
            assert app.current_mode == page.mode
        await pilot.click("#nav-templates")
        await settle(pilot)
        assert app.current_mode == "templates"


async def test_add_a_tenant_from_the_tui(ctx, actor, make_app) -> None:
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        slug = app.screen.query_one("#slug", Input)
        slug.value = "Bad Slug"
        await pilot.pause()
        assert "lowercase" in screen_note(app, "slug")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "NewTenantScreen"  # Save did nothing
        slug.value = "initech"
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        assert "initech" in [row[1] for row in rows(table)]


def screen_note(app, field: str) -> str:
    return str(app.screen.query_one(f"#field-{field} .field-note", Static).render())


async def test_command_palette_reaches_pages_actions_and_tenants(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for expected in (
            "Go to Servers",
            "Go to Deliveries",
            "Servers: Add",
            "Servers: Test",
            "Deliveries: Retry",
            "Templates: Edit",
            "Accounts: Sync now",
            "Work on tenant acme",
            "Work on the system",
            "Help",
        ):
            assert expected in titles, expected
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"servers: add")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "servers"
        assert type(app.screen).__name__ == "ServerFormScreen"


async def test_help_lists_the_keys_and_themes_switch(ctx, actor, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(page_key("servers"))
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        text = help_text(app)
        assert "This page: Mail servers" in text and "Test connection" in text
        await pilot.press("escape")
        await pilot.pause()
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.current_theme.dark is not dark


def test_unknown_tenant_exits_before_the_screen(cli) -> None:
    result = cli("tui", "--tenant", "nope")
    assert result.code == 1
    assert "tenant 'nope' does not exist" in result.err
