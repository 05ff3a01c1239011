"""Rough edges of the TUI found at 80×24 (issue #18, item 4): page keys whatever has focus, Esc on
a filled form asks, labels instead of internal names, help and footer, Enter and empty tables."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, TextArea

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
