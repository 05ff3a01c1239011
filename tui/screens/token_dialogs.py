"""Creating an API token: its name, scopes and expiry, then its secret, shown this once.

The secret lives in the dialog that shows it and nowhere else: not in a table, a notification,
the log or the audit entry (only its SHA-256 is stored); closing the dialog forgets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from core.vocabulary import TOKEN_SCOPES_DEFAULT, TokenScope
from tui.data import tokens
from tui.jobs import reporting
from tui.screens.form_dialog import FormDialog, Saved, SaveFailed
from tui.widgets.form import Field

if TYPE_CHECKING:
    from core.models.auth import TokenCreated

SCOPE_HELP = "read: GETs · write: changes · events: ingest only · admin: tokens, tenants"


class NewTokenScreen(FormDialog["TokenCreated | None"]):
    """Name, scopes (the service's default ticked) and expiry of a new token of `slug`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="token-form.cancel"),
        Binding("ctrl+s", "save", "Create", id="token-form.save"),
    ]
    CANCELLED = None

    def __init__(self, slug: str | None) -> None:
        super().__init__()
        self.slug = slug

    def compose(self) -> ComposeResult:
        owner = "the system" if self.slug is None else f"tenant {self.slug}"
        yield Footer()
        with Vertical(id="token-form", classes="dialog"):
            yield Label(f"New API token  ·  {owner}", classes="dialog-title")
            yield Field(
                "Name",
                Input(id="name", compact=True, placeholder="portal, event emitter…"),
                name="name",
                required=True,
            )
            boxes = [
                Checkbox(
                    scope.value,
                    scope in TOKEN_SCOPES_DEFAULT,
                    id=f"scope-{scope.value}",
                    compact=True,
                )
                for scope in TokenScope
            ]
            yield Field(
                "Scopes",
                Horizontal(*boxes, id="token-scopes"),
                name="scopes",
                required=True,
                hint=SCOPE_HELP,
            )
            yield Field(
                "Expires",
                Input(id="expires", compact=True, placeholder="never"),
                name="expires",
                hint="90d, 12h, 2w or a date such as 2027-03-01 (UTC); empty: never",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Create token", id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def chosen(self) -> list[str]:
        return [
            scope.value
            for scope in TokenScope
            if self.query_one(f"#scope-{scope.value}", Checkbox).value
        ]

    def validate_form(self, *, all_fields: bool = False) -> None:
        name = self.query_one("#name", Input).value
        missing = not name.strip() and (all_fields or "name" in self.touched)
        self.form.set("name", "is required: what the token is for" if missing else None)
        self.form.set("scopes", None if self.chosen() else "tick at least one scope")
        self.form.set("expires", tokens.expiry_error(self.query_one("#expires", Input).value))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.touched.add(event.input.id or "")
        self.validate_form()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        self.validate_form()

    def action_save(self) -> None:
        if not self.ready_to_save():
            return
        name = self.query_one("#name", Input).value.strip()
        self.save(name, self.chosen(), self.query_one("#expires", Input).value)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, name: str, scopes: list[str], expires: str) -> None:
        with reporting(self, "save", SaveFailed):
            self.post_message(Saved(tokens.create(self.ctx, self.slug, name, scopes, expires)))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.dismiss(message.value)


class TokenSecretScreen(ModalScreen[None]):
    """The new token's secret, once: selectable, copied with c; gone when the dialog closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Done", id="token-secret.close"),
        Binding("c", "copy", "Copy", id="token-secret.copy", tooltip="Copy the token"),
    ]

    def __init__(self, issued: TokenCreated) -> None:
        super().__init__(classes="dialog-screen")
        self._secret: str | None = issued.plaintext
        token = issued.token
        expires = "never" if token.expires_at is None else token.expires_at.strftime("%Y-%m-%d")
        scopes = ", ".join(scope.value for scope in token.scopes)
        self.about = f"{token.name} · scopes {scopes} · expires {expires}"

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(id="token-secret-dialog", classes="dialog"):
            yield Label("API token created", classes="dialog-title")
            yield Static(self.about, classes="muted", markup=False)
            yield Static(Text(self._secret or ""), id="token-secret")
            yield Static(
                "Copy it now: it will not be shown again (only its hash is kept). "
                "Select it with the mouse or press c.",
                id="token-secret-note",
                markup=False,
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy", id="copy", compact=True)
                yield Button("Done", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.action_close()

    def action_copy(self) -> None:
        if self._secret is not None:
            self.app.copy_to_clipboard(self._secret)
            self.notify("Token copied to the clipboard", timeout=3)

    def action_close(self) -> None:
        self._secret = None
        self.query_one("#token-secret", Static).update("")
        self.dismiss(None)
