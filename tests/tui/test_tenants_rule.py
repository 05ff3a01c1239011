"""Tenants: Enter and `s` follow one rule (switch the scope, stay on Tenants); a tenant added
with `n` is the selected row."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from tests.support.factories import make_tenant
from tests.tui.conftest import rows, settle


def cursor_key(table: DataTable) -> str | None:
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def marked(table: DataTable) -> list[str]:
    return [row[1] for row in rows(table) if row[0] == "●"]


async def test_enter_and_s_both_switch_the_scope_and_stay(ctx, actor, make_app) -> None:
    with ctx.session() as session:
        for slug in ("acme", "globex"):
            make_tenant(session, slug=slug, actor=actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        assert marked(table) == ["System"]
        table.move_cursor(row=table.get_row_index("globex"))
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope == "globex" and app.sub_title == "tenant globex"
        assert type(app.screen).__name__ == "TenantsScreen"
        assert marked(table) == ["globex"] and cursor_key(table) == "globex"
        await pilot.press("s")
        await settle(pilot)
        assert app.scope is None and type(app.screen).__name__ == "TenantsScreen"
        assert marked(table) == ["System"]


async def test_a_new_tenant_is_the_selected_row(ctx, actor, make_app) -> None:
    with ctx.session() as session:
        for slug in ("acme", "globex"):
            make_tenant(session, slug=slug, actor=actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#slug", Input).value = "beta"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        assert "beta" in [row[1] for row in rows(table)]
        assert cursor_key(table) == "beta" and app.scope is None
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope == "beta"
