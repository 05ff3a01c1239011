"""The audit log shows who changed what from where, field names only."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.conftest import PASSWORD, rows, screen_text, seed, settle


async def test_changes_made_in_the_tui_are_in_the_audit_log(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#password").value = "a-new-Secret-1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        table = rows(app.screen.query_one("#audit", DataTable))
        newest = table[0]
        assert newest[1:5] == ["admin", "tui", "acme", "mail_server.update"]
        assert "password" in newest[6]  # the field's name, never its value
        assert {row[2] for row in table} == {"tui", "cli"}
        assert all(row[3] == "acme" for row in table)  # the tenant's own trail
        text = screen_text(app)
        assert "a-new-Secret-1" not in text and PASSWORD not in text
