"""Notification settings: the effective-server banner, recipients, toggles, test email."""

from __future__ import annotations

from textual.widgets import Input, Static, Switch

from core.models.tenancy import NotificationSettingsRead, NotificationSettingsUpdate
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.tenants import get_tenant
from tests.support.factories import make_tenant
from tests.support.smtp_servers import FaultHandler
from tests.tui.conftest import screen_text, seed, settle
from tui.screens.settings import SYSTEM_SERVER_TEXT
from tui.widgets.recipients import RecipientsEditor


def tenant_settings(ctx, slug: str) -> NotificationSettingsRead:
    with ctx.session() as session:
        return get_notification_settings(
            session=session, tenant=get_tenant(session=session, slug=slug)
        )


def banner(app) -> str:
    return str(app.screen.query_one("#banner", Static).render())


async def test_unconfigured_tenant_gets_the_prompt_and_settings_opens_the_server_dialog(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="globex")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "NotConfiguredScreen"
        await pilot.press("escape")  # Later
        await settle(pilot)
        assert "The mail server is not configured" in banner(app)
        assert app.screen.query_one("#configure").display
        await pilot.click("#configure")
        await settle(pilot)
        assert app.current_mode == "servers"
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert "tenant globex" in screen_text(app)


async def test_green_line_when_the_tenant_uses_the_system_server(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        update_notification_settings(
            tenant=None,
            session=session,
            box=ctx.box,
            actor=actor,
            changes=NotificationSettingsUpdate.parse({"apply_to_all_tenants": True}, system=True),
        )
    app = make_app(tenant_slug="globex")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "SettingsScreen"  # no prompt
        assert banner(app) == SYSTEM_SERVER_TEXT
        assert app.screen.query_one("#banner").has_class("-ok")
        assert not app.screen.query_one("#configure").display


async def test_recipients_are_validated_and_saved_with_the_toggles(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        editor = app.screen.query_one("#recipients", RecipientsEditor)
        assert editor.value == ["ops@acme.example", "boss@acme.example"]
        field = editor.query_one("#recipient-input", Input)
        field.focus()
        await pilot.press(*"not-an-address", "enter")
        await pilot.pause()
        error = str(editor.query_one("#recipient-error", Static).render())
        assert "'not-an-address' is not a valid email address" in error
        field.value = "third@acme.example"
        await pilot.press("enter")
        await pilot.pause()
        assert editor.value[-1] == "third@acme.example" and field.value == ""
        for index in range(12):
            editor.add(f"extra{index}@acme.example")
        assert len(editor.value) == 15
        assert not editor.add("sixteenth@acme.example")
        assert "at most 15 are allowed" in str(editor.query_one("#recipient-error").render())
        app.screen.query_one("#notify_queue_call_lost", Switch).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
    saved = tenant_settings(ctx, "acme")
    assert saved.recipients[:3] == [
        "ops@acme.example",
        "boss@acme.example",
        "third@acme.example",
    ]
    assert len(saved.recipients) == 15
    assert saved.toggles["notify_queue_call_lost"] is True


async def test_a_toggle_without_recipients_is_refused_next_to_the_toggles(ctx, actor, make_app):
    with ctx.session() as session:
        make_tenant(session, slug="solo", actor=actor)
    app = make_app(tenant_slug="solo")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape")  # the not-configured prompt
        await settle(pilot)
        app.screen.query_one("#notify_user_registration", Switch).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = str(app.screen.query_one("#toggle-error", Static).render())
        assert "cannot be enabled without recipients" in error
    assert tenant_settings(ctx, "solo").toggles["notify_user_registration"] is False


async def test_send_a_test_email_and_see_it_arrive(ctx, actor, make_app, smtp_server) -> None:
    seed(ctx, actor, smtp_port=smtp_server.port)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert type(app.screen).__name__ == "TestEmailScreen"
        app.screen.query_one("#recipient", Input).value = "boss@acme.example"
        app.screen.query_one("#subject", Input).value = "Hello from the TUI"
        await pilot.press("ctrl+s")
        await settle(pilot)
        result = str(app.screen.query_one("#send-result", Static).render())
        assert result.startswith("✓ Sent.") and "The server replied: 250" in result
    (message,) = smtp_server.messages
    assert message.rcpt_tos == ["boss@acme.example"] and message.subject == "Hello from the TUI"


async def test_a_refused_test_email_shows_the_failing_step(ctx, actor, make_app, smtp_servers):
    refusing = smtp_servers(
        handler=FaultHandler(rcpt={"nobody@acme.example": "550 5.1.1 no such user"})
    )
    seed(ctx, actor, smtp_port=refusing.port)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        recipient = app.screen.query_one("#recipient", Input)
        recipient.value = "not an address"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "not a valid email address" in screen_text(app)
        recipient.value = "nobody@acme.example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        result = str(app.screen.query_one("#send-result", Static).render())
        assert result.startswith("✗ Failed at rcpt") and "550 5.1.1 no such user" in result
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "SettingsScreen"


async def test_the_health_alerts_switch_of_each_scope_is_its_own(ctx, actor, make_app) -> None:
    """notify_mail_health is a toggle of a tenant and of the system: each page shows and saves
    its own switch (the other scope's is hidden on the same screen)."""
    seed(ctx, actor)
    app = make_app(start="settings")  # the system's settings
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        switch = app.screen.query_one("#system-toggles #notify_mail_health", Switch)
        assert switch.value is True and switch.display
        switch.value = False
        await pilot.press("ctrl+s")
        await settle(pilot)
    with ctx.session() as session:
        system = get_notification_settings(session=session, tenant=None)
    assert system.toggles["notify_mail_health"] is False
    assert tenant_settings(ctx, "acme").toggles["notify_mail_health"] is True
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#tenant-toggles #notify_mail_health", Switch).value is True
