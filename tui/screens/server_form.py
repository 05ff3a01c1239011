"""Add or edit a mail server: every field, provider presets, rules checked as you type.

The password and the OAuth client secret are never shown: their inputs start empty and are
masked; on edit, blank keeps the stored value. Save does nothing while a field breaks a rule.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from core.vocabulary import AuthMode, Provider
from tui.data import servers
from tui.data.wording import choice_label, field_label, reserved_note
from tui.jobs import reporting
from tui.screens.form_dialog import FormDialog, Saved, SaveFailed
from tui.screens.server_fields import SECRETS, server_fields

NUMBERS = ("integer", "number")


class ServerFormScreen(FormDialog[bool]):
    # Up to six buttons (OAuth's Authorize…) share the row: each as wide as its label.
    DEFAULT_CSS = """
    ServerFormScreen .dialog-buttons Button {
        min-width: 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="server-form.cancel"),
        Binding("ctrl+s", "save", "Save", id="server-form.save"),
        Binding("ctrl+t", "test", "Test connection", id="server-form.test", priority=True),
        Binding("ctrl+e", "test_email", "Test email", id="server-form.test-email", priority=True),
    ]

    def __init__(self, slug: str | None, server: dict[str, Any] | None) -> None:
        super().__init__()
        self.slug = slug
        self.server = server
        self._ready = False
        self._testing = False
        self.opened_with: dict[str, Any] | None = None  # the fields once filled in: Esc compares
        # The server's version as opened: a save is refused when someone else saved it since.
        self.version: str | None = server.get("version") if server else None

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        s = self.server
        title = "Add mail server" if s is None else f"Edit mail server — {s['name']}"
        owner_text = "the system" if self.slug is None else f"tenant {self.slug}"

        yield Footer()

        with Vertical(id="server-form", classes="dialog"):
            yield Label(f"{title}  ·  {owner_text}", classes="dialog-title")
            # shown once a save is refused over another admin's change: it stays until saved
            yield Static(id="conflict-note", classes="conflict-note", markup=False)
            with VerticalScroll(classes="form"):
                yield from server_fields(s, self._token_status())
            with Horizontal(classes="dialog-buttons"):
                yield Button("Test connection", id="test", compact=True)
                yield Button("Test email…", id="test_email", compact=True)
                yield Button("Authorize…", id="authorize", compact=True)
                yield Static(classes="spacer")
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    def _token_status(self) -> str:
        if self.server is None:
            return "Save the server, then Authorize to connect the account."
        if self.server.get("oauth_authorized"):
            return "✓ Authorized: a refresh token is stored (encrypted)."
        return "Not authorized yet: fill the client id (and secret), save, then Authorize."

    def on_mount(self) -> None:
        self._show_oauth()
        self.query_one("#name" if self.server is None else "#host", Input).focus()
        self.call_after_refresh(self._mark_ready)

    def _mark_ready(self) -> None:
        self._ready = True
        self.opened_with = self.values()

    def unsaved(self) -> bool:
        return self.opened_with is not None and self.values() != self.opened_with

    def _show_oauth(self) -> None:
        auth = self.query_one("#auth", Select).value
        self.query_one("#oauth").display = auth == AuthMode.XOAUTH2
        self.query_one("#authorize").display = auth == AuthMode.XOAUTH2
        provider = self.query_one("#provider", Select).value
        self.query_one("#field-oauth_directory_id").display = provider == Provider.MS365

    # -- values ----------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """Every field as the service takes it (strings, booleans); secrets only when typed."""
        data: dict[str, Any] = {}
        for control in self._text_inputs():
            name, value = str(control.id), control.value
            if name in SECRETS and not value:
                continue
            # A blank number keeps the stored value (or the preset's, the model's default).
            if control.type in NUMBERS and not value.strip():
                continue
            data[name] = value
        for name in ("provider", "security", "auth"):
            data[name] = self.query_one(f"#{name}", Select).value
        data["tls_verify"] = self.query_one("#tls_verify", Switch).value
        if self.server is None:
            data["is_default"] = self.query_one("#is_default", Switch).value
        return data

    def _text_inputs(self) -> list[Input]:
        """The form's text inputs, in its order: each sends its value under its id."""
        return list(self.query("#server-form Input").results(Input))

    def changes(self) -> dict[str, Any]:
        """On edit: the fields that differ from the stored server (plus typed secrets)."""
        data = self.values()
        if self.server is None:
            return data
        changed: dict[str, Any] = {}
        for name, value in data.items():
            stored = self.server.get(name)
            if name in SECRETS or str(stored if stored is not None else "") != str(value):
                changed[name] = value
        return changed

    # -- validation as you type ----------------------------------------------------------------

    def validate_form(self, *, all_fields: bool = False) -> None:
        data_ = self.values()
        for name, value in data_.items():
            self.form.set(name, servers.field_error(name, value))
        incomplete = servers.incomplete(data_)
        failed, complete = incomplete if incomplete else (None, None)
        if failed == "mail_from" and self._testing:
            complete = None  # a connection test needs no From: only a save does
        for name in ("host", "username", "mail_from"):
            if name not in self.form.errors:
                shown = all_fields or name in self.touched
                self.form.set(name, complete if failed == name and shown else None)
        if not all_fields and "name" not in self.touched:
            self.form.set("name", None)

    def on_input_changed(self, event: Input.Changed) -> None:
        if not self._ready or event.input.id is None:
            return
        self.touched.add(event.input.id)
        self.validate_form()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "auth" or event.select.id == "provider":
            self._show_oauth()
        if not self._ready:
            return
        if event.select.id == "provider":
            self.apply_preset(str(event.value))
        self.validate_form()

    def on_switch_changed(self, _: Switch.Changed) -> None:
        if self._ready:
            self.validate_form()

    def apply_preset(self, provider: str) -> None:
        """Fill host, port, security (and what else the preset has) from the provider."""
        preset = servers.preset(provider)
        for name, value in preset.items():
            if name == "security":
                self.query_one("#security", Select).value = value
            elif name in {str(control.id) for control in self._text_inputs()}:
                self.query_one(f"#{name}", Input).value = str(value)
        if preset:
            # the labels the form shows, not core's names (`GMAIL: filled host, port`)
            filled = ", ".join(field_label(name) for name in preset)
            self.notify(f"{choice_label('provider', provider)}: filled {filled}", timeout=3)

    # -- buttons ---------------------------------------------------------------------------

    def action_save(self) -> None:
        if not self.ready_to_save():
            return
        changes = self.changes()
        if self.server is not None and not changes:
            self.dismiss(False)
            return
        server_id = self.server["id"] if self.server else None
        self.save(server_id, changes, self.version)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, server_id: int | None, changes: dict[str, Any], version: str | None) -> None:
        with reporting(self, "save", SaveFailed):
            name = servers.save(self.ctx, self.slug, server_id, changes, version)
            self.post_message(Saved(name))

    @on(SaveFailed)
    def edit_conflict(self, message: SaveFailed) -> None:
        """Someone else saved the server since the form opened: ask; the edits stay either way."""
        from tui.screens import edit_conflict

        if self.server is None:
            return
        server_id = self.server["id"]
        # Overwrite sends only the fields changed here, so their other changes survive.
        edit_conflict.offer(self, message, lambda: self.save(server_id, self.changes(), None))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.notify(f"Saved {message.value}")
        # A sender on a reserved domain (`.local`) is valid: say it needs an internal relay.
        senders = [str(self.values().get(name) or "") for name in ("mail_from", "reply_to")]
        note = reserved_note([s.rstrip(">") for s in senders if "@" in s])
        if note is not None:
            self.notify(note, severity="warning", timeout=8)
        self.dismiss(True)

    def action_test(self) -> None:
        from tui.screens.connection_test import ConnectionTestScreen

        # A secret is tested as typed, or the stored one is used: its rules are for saving.
        self._testing = True
        try:
            ready = self.ready_to_save("before testing", ignore=("password", "oauth_client_secret"))
        finally:
            self._testing = False
        if not ready:
            return
        label = self.query_one("#name", Input).value or self.query_one("#host", Input).value
        if self.server is None:
            screen = ConnectionTestScreen(self.slug, data=self.values(), label=label)
        else:
            screen = ConnectionTestScreen(
                self.slug, server_id=self.server["id"], changes=self.changes(), label=label
            )
        self.app.push_screen(screen)

    def action_test_email(self) -> None:
        """A test email through the form's values as typed (nothing saved); a From is needed,
        as for a save, and a secret left blank is the stored one."""
        from tui.screens.test_email import TestEmailScreen

        if not self.ready_to_save("before sending", ignore=SECRETS):
            return
        label = self.query_one("#name", Input).value or self.query_one("#host", Input).value
        if self.server is None:
            changes = {k: v for k, v in self.values().items() if k not in ("name", "is_default")}
            screen = TestEmailScreen(self.slug, changes=changes, label=label)
        else:
            screen = TestEmailScreen(
                self.slug, server_id=self.server["id"], changes=self.changes(), label=label
            )
        self.app.push_screen(screen)

    def action_authorize(self) -> None:
        from tui.screens.oauth import OAuthScreen

        if self.server is None or self.changes():
            self.notify("Save the server first, then authorize", severity="warning")
            return

        def authorized(done: bool | None) -> None:
            if done and self.server is not None:
                self.server["oauth_authorized"] = True
                self.query_one("#token-status", Static).update(self._token_status())

        self.app.push_screen(OAuthScreen(self.slug, self.server["id"]), authorized)
