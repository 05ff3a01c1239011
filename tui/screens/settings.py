"""Notification settings: the tenant's (or the system's) recipients, event toggles, time zone
and locale, delivery settings (recipient mode, the system-server switch, digest policies), test
email.

A tenant sees which server sends its mail: the green line of the reference when the system
server is used, and a prompt with a Settings button when no server can send; with the
`use_system_server` switch on, the banner says what it does or why it cannot.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from core.vocabulary import SYSTEM_TOGGLE_LABELS, TENANT_TOGGLE_LABELS
from tui.data import settings
from tui.data.settings import SettingsView
from tui.jobs import JobFailed, Result, reporting
from tui.runtime import field_of, message_of
from tui.screens.base import MainScreen
from tui.widgets.delivery_settings import DeliverySettings
from tui.widgets.locality_settings import LocalitySettings
from tui.widgets.recipients import RecipientsEditor
from tui.widgets.toggle import Toggle

SYSTEM_SERVER_TEXT = (
    "You can now use the system administrator's mail server settings to send email notifications."
)


class SettingsLoaded(Result[SettingsView]):
    """The scope's settings and which server sends its mail."""


class SettingsSaved(Result[None]):
    pass


class SettingsSaveFailed(JobFailed):
    """Refused: a rule of the recipients or of a toggle (shown beside it)."""


class SettingsScreen(MainScreen):
    MODE = "settings"
    PAGE_TITLE = "Notification settings"
    AUTO_FOCUS = "#recipient-list, Switch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+s", "save", "Save", id="settings.save", tooltip="Save recipients and toggles"
        ),
        Binding(
            "ctrl+e",
            "test_email",
            "Test email",
            id="settings.test-email",
            tooltip="Send a test email through the server that sends this scope's mail",
            priority=True,  # the recipient Input binds ctrl+e (end of line) and took the key
        ),
        Binding(
            "ctrl+r",
            "reload_page",
            "Revert",
            id="settings.revert",
            tooltip="Forget unsaved changes",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: SettingsView | None = None
        self.prompted: set[str] = set()
        self.focus_placed = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="settings-form"):
            with Horizontal(id="banner-row"):
                yield Static("", id="banner")
                yield Button("Settings", id="configure", variant="warning", compact=True)
            with Vertical(id="apply-row", classes="toggle-row"):
                with Horizontal(classes="toggle-row"):  # height auto: no blank band below
                    yield Toggle(id="apply_to_all_tenants")
                    yield Label("Apply mail settings to all tenants")
                yield Static(
                    "Tenants without a default server of their own send through the system "
                    "default server.",
                    classes="muted toggle-note",
                )
            yield Label("Emails of recipients", classes="section-title")
            yield RecipientsEditor(id="recipients")
            yield Label("Notifications", classes="section-title")
            for group, toggles in (
                ("tenant", TENANT_TOGGLE_LABELS),
                ("system", SYSTEM_TOGGLE_LABELS),
            ):
                with Vertical(id=f"{group}-toggles", classes="toggles"):
                    for name, label in toggles.items():
                        with Horizontal(classes="toggle-row"):
                            yield Toggle(id=name)
                            yield Label(label)
            yield Static("", id="toggle-error", classes="field-note -error")
            yield LocalitySettings(id="locality-settings")
            yield DeliverySettings(id="delivery-settings")
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Send test email…", id="test-email", compact=True)
                yield Static("", id="dirty", classes="muted")

    def reload(self) -> None:
        # The scope's own parts show at once: a tenant never sees the system's toggles flash
        # by while its settings load.
        self._show_parts(system=self.slug is None)
        self.load(self.slug)

    def _show_parts(self, *, system: bool) -> None:
        self.query_one("#apply-row").display = system
        self.query_one("#system-toggles").display = system
        self.query_one("#tenant-toggles").display = not system

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(SettingsLoaded(settings.load(self.ctx, slug)))

    def action_reload_page(self) -> None:
        self.reload()

    @on(SettingsLoaded)
    def show(self, message: SettingsLoaded) -> None:
        view = self.view = message.value
        values = view.values
        system = view.slug is None
        self._show_parts(system=system)
        toggles = SYSTEM_TOGGLE_LABELS if system else TENANT_TOGGLE_LABELS
        with self.prevent(Switch.Changed, Input.Changed, Select.Changed):
            self.query_one("#delivery-settings", DeliverySettings).show(values)
            self.query_one("#locality-settings", LocalitySettings).show(values, view.inherited)
            if system:
                self.query_one("#apply_to_all_tenants", Switch).value = bool(
                    values.apply_to_all_tenants
                )
            for name in toggles:
                self._switch(system, name).value = bool(values.toggles.get(name))
        editor = self.query_one("#recipients", RecipientsEditor)
        editor.set(list(values.recipients))
        editor.show_error(None)
        self.query_one("#toggle-error").display = False
        self._draw_banner(view)
        self._mark_dirty(False)
        if not self.focus_placed:
            # AUTO_FOCUS ran before the load, while the list was hidden and both scopes'
            # switches shown: focus the recipients, else the scope's first switch (not the
            # input, where the page keys, digits, would be typed).
            self.focus_placed = True
            first = (
                editor.query_one("#recipient-list")
                if editor.value
                else self._switch(system, next(iter(toggles)))
            )
            self.call_after_refresh(first.focus)  # once shown: a hidden widget takes no focus
        if view.slug is not None and view.effective == "none" and view.slug not in self.prompted:
            self.prompted.add(view.slug)
            self.app.push_screen(NotConfiguredScreen(view.slug), self._after_prompt)

    def _draw_banner(self, view: SettingsView) -> None:
        banner = self.query_one("#banner", Static)
        button = self.query_one("#configure", Button)
        for name in ("-ok", "-warn", "-info"):
            banner.remove_class(name)
        button.display = view.effective == "none"
        if view.effective == "none":
            who = "The system" if view.slug is None else f"Tenant {view.slug}"
            text = (
                f"⚠ The mail server is not configured. {who} cannot send email notifications "
                "until one is: press Settings."
            )
            banner.add_class("-warn")
        elif view.effective == "system" and view.slug is not None:
            text = SYSTEM_SERVER_TEXT
            banner.add_class("-ok")
        else:
            text = f"● Email notifications are sent through {view.server}."
            banner.add_class("-info")
        # The use_system_server switch: what it does, or why it cannot (the core's words).
        note = view.values.effective_mail_server_note
        banner.update(f"{text}\n⇄ {note}." if note else text)

    def _after_prompt(self, configure: bool | None) -> None:
        if configure:
            self.action_configure()

    def action_configure(self) -> None:
        self.mb.go_and_run("servers", "add")

    # -- editing ---------------------------------------------------------------------------

    def _switch(self, system: bool, name: str) -> Switch:
        """The scope's switch: a toggle of both scopes (notify_mail_health) has one in each."""
        group = "system" if system else "tenant"
        return self.query_one(f"#{group}-toggles #{name}", Switch)

    def unsaved(self) -> bool:
        return bool(str(self.query_one("#dirty", Static).render()))

    def _mark_dirty(self, dirty: bool) -> None:
        self.query_one("#dirty", Static).update("● unsaved changes" if dirty else "")

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self._mark_dirty(True)
        self.query_one("#toggle-error").display = False

    def on_recipients_editor_changed(self, _: RecipientsEditor.Changed) -> None:
        self._mark_dirty(True)

    @on(Input.Changed, ".digest-input, #timezone")
    @on(Select.Changed, "#recipient_mode, #locale")
    def _delivery_changed(self) -> None:
        self._mark_dirty(True)

    def changes(self) -> dict[str, Any]:
        assert self.view is not None
        system = self.view.slug is None
        changes: dict[str, Any] = {
            "recipients": list(self.query_one("#recipients", RecipientsEditor).value)
        }
        for name in SYSTEM_TOGGLE_LABELS if system else TENANT_TOGGLE_LABELS:
            changes[name] = self._switch(system, name).value
        if system:
            changes["apply_to_all_tenants"] = self.query_one("#apply_to_all_tenants", Switch).value
        delivery = self.query_one("#delivery-settings", DeliverySettings)
        changes.update(delivery.changes(system=system))
        changes.update(self.query_one("#locality-settings", LocalitySettings).changes())
        return changes

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "save": self.action_save,
            "test-email": self.action_test_email,
            "configure": self.action_configure,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    def action_save(self) -> None:
        if self.view is None:
            return
        editor = self.query_one("#recipients", RecipientsEditor)
        if not editor.commit_pending():
            editor.query_one("#recipient-input").focus()
            self.notify("Fix the recipients first", severity="warning", timeout=3)
            return
        self.save(self.slug, self.changes())

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, slug: str | None, changes: dict[str, Any]) -> None:
        with reporting(self, "save", SettingsSaveFailed):
            settings.save(self.ctx, slug, changes)
            self.post_message(SettingsSaved(None))

    @on(SettingsSaved)
    def saved(self, _: SettingsSaved) -> None:
        self.notify("Notification settings saved")
        self.reload()

    @on(SettingsSaveFailed)
    def save_failed(self, message: SettingsSaveFailed) -> None:
        exc = message.error
        field = field_of(exc)
        if field == "recipients":
            self.query_one("#recipients", RecipientsEditor).show_error(message_of(exc))
            message.prevent_default()
        elif field is not None and (
            self.query_one("#delivery-settings", DeliverySettings).show_error(
                field, message_of(exc)
            )
            or self.query_one("#locality-settings", LocalitySettings).show_error(
                field, message_of(exc)
            )
        ):
            # A refusal without a field (a role's, the database's) is left for the notification.
            message.prevent_default()
        elif field and field.startswith("notify_"):
            error = self.query_one("#toggle-error", Static)
            label = {**TENANT_TOGGLE_LABELS, **SYSTEM_TOGGLE_LABELS}.get(field, field)
            error.update(f"✗ {label}: {message_of(exc)}")
            error.display = True
            message.prevent_default()

    def action_test_email(self) -> None:
        from tui.screens.test_email import TestEmailScreen

        # The first recipient as shown (saved or not): the address the operator reads here.
        shown = self.query_one("#recipients", RecipientsEditor).value
        self.app.push_screen(TestEmailScreen(self.slug, recipient=shown[0] if shown else ""))


class NotConfiguredScreen(ModalScreen[bool]):
    """The reference's pop-up: no SMTP server yet → Settings opens the mail server dialog."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "later", "Later", id="not-configured.later"),
    ]

    def __init__(self, slug: str) -> None:
        super().__init__(classes="dialog-screen")
        self.slug = slug

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(classes="dialog small"):
            yield Label("Mail server not configured", classes="dialog-title")
            yield Static(
                f"Tenant {self.slug} has no mail server, and the system's is not applied to all "
                "tenants. Email notifications cannot be sent until one is configured."
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Later", id="later", compact=True)
                yield Button("Settings", id="settings", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#settings", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "settings")

    def action_later(self) -> None:
        self.dismiss(False)
