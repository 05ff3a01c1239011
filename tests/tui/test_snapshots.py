"""Snapshots of the main screens at 80x24 (pytest-textual-snapshot; SVGs in __snapshots__).

Update after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, TextArea

from core.models.tenancy import NotificationSettingsUpdate
from core.services.notifications import update_notification_settings
from core.services.tenants import get_tenant
from tests.tui.conftest import seed, settle
from tests.tui.test_deliveries import emit_for
from tui.app import MailbellApp
from tui.screens.settings import NotConfiguredScreen

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _fixed_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times in tables would change with every run."""
    monkeypatch.setattr(
        "tui.format.when", lambda value, *, empty="—": empty if value is None else "12:00:00"
    )
    monkeypatch.setattr(
        "tui.format.stamp", lambda value: "—" if value is None else "2026-11-22 12:00:00 UTC"
    )


@pytest.fixture
def data(ctx, actor) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            actor=actor,
            changes=NotificationSettingsUpdate.parse(
                {"notify_queue_sla_breached": True}, system=False
            ),
        )
    emit_for(ctx, "acme", "QUEUE_SLA")
    emit_for(ctx, "acme", "QUEUE_CALL_LOST")
    emit_for(ctx, "globex", "VOICEMAIL_RECEIVED")


def steps(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.5)  # debounced previews, syntax highlighting
        # A blinking cursor differs from run to run.
        for widget in pilot.app.screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        if isinstance(pilot.app.focused, TextArea):
            pilot.app.screen.set_focus(None)  # its cursor may stay in the "off" phase
        await settle(pilot)

    return run


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize(
    ("scope", "start", "keys"),
    [
        pytest.param(None, "tenants", (), id="tenants"),
        pytest.param("acme", "servers", (), id="servers"),
        pytest.param("acme", "servers", ("e",), id="server-dialog"),
        pytest.param("acme", "servers", ("d",), id="delete-confirm"),
        pytest.param("acme", "settings", (), id="settings-tenant"),
        pytest.param(None, "settings", (), id="settings-system"),
        pytest.param("acme", "settings", ("ctrl+e",), id="test-email-dialog"),
        pytest.param("acme", "templates", (), id="templates"),
        pytest.param("acme", "templates", ("down", "enter"), id="template-editor"),
        pytest.param("acme", "accounts", (), id="accounts"),
        pytest.param(None, "deliveries", (), id="deliveries"),
        pytest.param(None, "audit", (), id="audit"),
        pytest.param("acme", "servers", ("f1",), id="help"),
    ],
)
def test_screen(snap_compare, ctx, scope: str | None, start: str, keys: tuple[str, ...]) -> None:
    app = MailbellApp(ctx, tenant_slug=scope, start=start)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(*keys))


@pytest.mark.usefixtures("data")
def test_not_configured_prompt(snap_compare, ctx) -> None:
    """A tenant without a server: the settings page's prompt. At 80x24 its form is within a
    line of the screen's height, where whether a scrollbar shows depends on layout timing; six
    more lines keep the picture stable."""
    app = MailbellApp(ctx, tenant_slug="globex", start="settings")
    # The toggles slide to their values as the page fills in; on a busy machine the picture was
    # taken mid-slide.
    app.animation_level = "none"

    async def prompt_shown(pilot: Pilot[Any]) -> None:
        # The pop-up comes once the page's settings are loaded: on a busy machine, later than
        # a few rounds of settling.
        for _ in range(100):
            if isinstance(pilot.app.screen, NotConfiguredScreen):
                break
            await pilot.pause(0.1)
        await steps()(pilot)

    assert snap_compare(app, terminal_size=(80, 30), run_before=prompt_shown)


def test_delivery_with_a_failure_reason(snap_compare, ctx, data) -> None:
    async def open_failed(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one("#deliveries", DataTable)
        table.move_cursor(row=0)  # globex: not configured
        await pilot.press("enter")
        await settle(pilot)

    app = MailbellApp(ctx, start="deliveries")
    assert snap_compare(app, terminal_size=SIZE, run_before=open_failed)
