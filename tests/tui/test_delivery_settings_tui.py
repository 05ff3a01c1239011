"""The settings page's delivery part (recipient mode, the system-server switch, digest
policies) and what every TUI banner says about the `use_system_server` switch."""

from __future__ import annotations

from textual.widgets import Input, Select, Static, Switch

from tests.support.factories import read_settings, set_settings
from tests.tui.conftest import screen_text, seed, settle
from tui.screens.settings import SYSTEM_SERVER_TEXT

NOT_APPLIED = (
    "use_system_server is on, but the system does not apply its mail settings to all tenants: "
    "the tenant's own server sends its mail"
)
SWITCHED = "use_system_server is on: the system's server sends this tenant's mail"


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_mode_switch_and_digests_are_saved(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    set_settings(ctx, actor, "acme", **{"digest.QUEUE_SLA": "2/1h"})
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.query_one("#digest-QUEUE_SLA", Input).value == "2/1h"
        assert screen.query_one("#digest-QUEUE_CALL_LOST", Input).value == "off"
        assert not screen.query_one("#system-digests").display
        assert "unsaved" not in _text(app, "#dirty")
        screen.query_one("#recipient_mode", Select).value = "bcc"
        screen.query_one("#use_system_server", Switch).value = True
        screen.query_one("#digest-QUEUE_CALL_LOST", Input).value = "5/10m"
        await pilot.pause()
        assert "unsaved changes" in _text(app, "#dirty")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # reloaded from the core: the banner now says why the switch is not followed
        assert "unsaved" not in _text(app, "#dirty")
        assert NOT_APPLIED in _text(app, "#banner")
    saved = read_settings(ctx, "acme")
    assert (saved.recipient_mode, saved.use_system_server) == ("bcc", True)
    assert saved.digests["QUEUE_CALL_LOST"] == "5/10m" and saved.digests["QUEUE_SLA"] == "2/1h"


async def test_a_bad_policy_is_shown_naming_the_field(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#digest-QUEUE_CALLBACK", Input)
        box.value = "5 per 10m"
        app.screen.query_one("#recipient_mode", Select).value = "individual"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = _text(app, "#digest-error")
        assert error.startswith("✗ digest.QUEUE_CALLBACK: '5 per 10m' must be AFTER/WINDOW")
        assert box.has_class("-invalid") and app.focused is box
        assert "digest.QUEUE_CALLBACK" in screen_text(app)  # scrolled into view
        box.value = "5/10m"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not app.screen.query_one("#digest-error").display
    saved = read_settings(ctx, "acme")
    assert saved.digests["QUEUE_CALLBACK"] == "5/10m" and saved.recipient_mode == "individual"


async def test_the_system_page_has_its_digests_and_no_switch(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert not screen.query_one("#system-server-row").display
        assert not screen.query_one("#tenant-digests").display
        screen.query_one("#digest-DISK_LOW", Input).value = "1/1h"
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert read_settings(ctx, None).digests["DISK_LOW"] == "1/1h"
    assert read_settings(ctx, "acme").digests["QUEUE_CALL_LOST"] == "off"


async def test_the_settings_banner_says_what_the_switch_does(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    set_settings(ctx, actor, "acme", use_system_server=True)
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = _text(app, "#banner")
        assert "acme relay" in banner and f"⇄ {NOT_APPLIED}." in banner
        set_settings(ctx, actor, None, apply_to_all_tenants=True)
        await pilot.press("ctrl+r")  # Revert: read again
        await settle(pilot)
        banner = _text(app, "#banner")
        assert banner.startswith(SYSTEM_SERVER_TEXT) and SWITCHED in banner


def test_the_servers_and_tenants_pages_mark_the_switch(ctx, actor) -> None:
    """What the Servers page's line and the Tenants page's Source column are made of."""
    from tui.data import servers, tenants
    from tui.screens.servers import effective_line

    seed(ctx, actor)
    set_settings(ctx, actor, "acme", use_system_server=True)
    assert NOT_APPLIED in effective_line(servers.load(ctx, "acme"), "acme").plain
    rows, summary = tenants.load_rows(ctx)
    assert {row.slug: row.source for row in rows} == {
        "acme": "tenant ⚠",
        "globex": "not configured",
    }
    assert "⚠ use_system_server on, not followed" in summary

    set_settings(ctx, actor, None, apply_to_all_tenants=True)
    line = effective_line(servers.load(ctx, "acme"), "acme").plain
    assert "system server 'shared' (use the system's server)" in line and SWITCHED in line
    rows, _ = tenants.load_rows(ctx)
    assert {row.slug: row.source for row in rows} == {"acme": "system ⇄", "globex": "system"}
    set_settings(ctx, actor, "acme", use_system_server=False)
    rows, summary = tenants.load_rows(ctx)
    assert rows[0].source == "tenant" and "use_system_server" not in summary
