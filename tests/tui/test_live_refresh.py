"""Every page shows the data as it is now: a change saved on one page shows on the others
without ctrl+r, and a change made by another session shows after the change probe."""

from __future__ import annotations

from textual.widgets import DataTable, Select, Static

import tui.change_watch
from tests.support.factories import make_mail_server, make_tenant
from tests.support.tui_forms import type_into
from tests.tui.conftest import rows, settle


async def go(pilot, mode: str) -> None:
    """Open a page with its key, as a person would."""
    (page,) = [p for p in pilot.app.pages if p.mode == mode]
    await pilot.press(page.key)
    await settle(pilot)
    assert pilot.app.current_mode == mode


def summary(app) -> str:
    return str(app.screen.query_one("#system-summary", Static).render())


def banner(app) -> str:
    return str(app.screen.query_one("#banner", Static).render())


async def until(pilot, condition, *, probe: bool = False, rounds: int = 40) -> bool:
    """Wait for `condition` (bounded: no timed assertion); `probe` runs the change probe
    each round, as its timer would."""
    for _ in range(rounds):
        if condition():
            return True
        if probe:
            pilot.app.probe_changes()
        await settle(pilot)
    return condition()


async def test_a_server_added_shows_on_settings_and_tenants_at_once(
    ctx, actor, make_app, monkeypatch
) -> None:
    # The probe never ticks here: what shows the change is this session's own save.
    monkeypatch.setattr(tui.change_watch, "CHANGES_REFRESH_S", 3600.0)
    with ctx.session() as session:
        make_tenant(session, slug="globex", actor=actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "not configured" in summary(app)
        await go(pilot, "settings")
        assert "not configured" in banner(app)
        await go(pilot, "servers")
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "#name", "relay")
        await type_into(pilot, "#host", "smtp.example.com")
        app.screen.query_one("#auth", Select).value = "DISABLE"
        await type_into(pilot, "#mail_from", "alerts@example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"

        await go(pilot, "settings")
        assert "not configured" not in banner(app) and "relay" in banner(app)
        await go(pilot, "tenants")
        assert "not configured" not in summary(app) and "relay" in summary(app)


async def test_another_sessions_change_shows_after_the_probe(ctx, actor, make_app) -> None:
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await go(pilot, "settings")
        assert "not configured" in banner(app)
        # From here on this session does not see its own commits: only the probe can tell.
        assert app._stop_own_changes is not None
        app._stop_own_changes()
        app._stop_own_changes = None
        with ctx.session() as session:
            make_mail_server(session, ctx.box, None, actor=actor, name="elsewhere")
        assert await until(pilot, lambda: "elsewhere" in banner(app), probe=True)
        assert type(app.screen).__name__ == "SettingsScreen"


async def test_a_reload_for_a_change_keeps_the_cursor(ctx, actor, make_app) -> None:
    with ctx.session() as session:
        for slug in ("acme", "globex"):
            make_tenant(session, slug=slug, actor=actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        table.move_cursor(row=table.get_row_index("globex"))
        app._stop_own_changes()
        app._stop_own_changes = None
        with ctx.session() as session:
            make_tenant(session, slug="zeta", actor=actor)
        assert await until(pilot, lambda: "zeta" in [r[1] for r in rows(table)], probe=True)
        await settle(pilot)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert key == "globex" and app.scope is None


async def test_unsaved_settings_are_not_reloaded_away(ctx, actor, make_app) -> None:
    app = make_app(start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen._mark_dirty(True)  # as an edit does
        version = app.data_version
        with ctx.session() as session:
            make_mail_server(session, ctx.box, None, actor=actor, name="elsewhere")
        assert await until(pilot, lambda: app.data_version > version, probe=True)
        await settle(pilot)
        assert "not configured" in banner(app)  # the form kept what was being edited
        assert app.screen.unsaved()
