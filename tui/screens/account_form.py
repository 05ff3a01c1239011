"""Add or edit an email account: email read-only after creation, a mail server required.

The IMAP password input is masked and starts empty; on edit, blank keeps the stored one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from tui.data import accounts
from tui.jobs import reporting
from tui.screens.form_dialog import FormDialog, Saved, SaveFailed, secret_field
from tui.widgets.form import Field
from tui.widgets.toggle import Toggle

TEXT_FIELDS = (
    "email",
    "display_name",
    "imap_host",
    "imap_port",
    "imap_username",
    "imap_password",
    "imap_folder",
)


class AccountFormScreen(FormDialog[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="account-form.cancel"),
        Binding("ctrl+s", "save", "Save", id="account-form.save"),
    ]

    def __init__(self, slug: str, account: dict[str, Any] | None, servers: dict[int, str]) -> None:
        super().__init__()
        self.slug = slug
        self.account = account
        self.servers = servers
        self.opened_with: dict[str, Any] | None = None  # the fields once filled in: Esc compares
        # The account's version as opened: a save is refused when someone else saved it since.
        self.version: str | None = account.get("version") if account else None

    def compose(self) -> ComposeResult:
        a = self.account

        def value(name: str, default: str = "") -> str:
            if a is None or a.get(name) is None:
                return default
            return str(a[name])

        has_password = bool(a and a.get("has_imap_password"))
        options = [(f"{name} (#{sid})", sid) for sid, name in self.servers.items()]
        server = a["mail_server_id"] if a and a["mail_server_id"] in self.servers else None
        title = "Add email account" if a is None else f"Edit email account — {a['email']}"
        yield Footer()
        with Vertical(id="account-form", classes="dialog"):
            yield Label(f"{title}  ·  tenant {self.slug}", classes="dialog-title")
            # shown once a save is refused over another admin's change: it stays until saved
            yield Static(id="conflict-note", classes="conflict-note", markup=False)
            with VerticalScroll(classes="form"):
                yield Field(
                    "Email",
                    Input(
                        value("email"),
                        id="email",
                        compact=True,
                        disabled=a is not None,
                        placeholder="support@acme.org",
                    ),
                    name="email",
                    required=True,
                    hint="read-only after creation" if a else None,
                )
                yield Field(
                    "Display name",
                    Input(
                        value("display_name"),
                        id="display_name",
                        compact=True,
                        placeholder="Support Inbox",
                    ),
                    name="display_name",
                    required=True,
                )
                yield Field(
                    "Mail server",
                    Select(
                        options,
                        value=server if server is not None else Select.NULL,
                        id="mail_server_id",
                        compact=True,
                        prompt="choose a server",
                    ),
                    name="mail_server_id",
                    required=True,
                    hint="the outbound SMTP server of the account",
                )
                yield Field(
                    "Default",
                    Toggle(value=bool(a and a["default"]), id="is_default"),
                    name="is_default",
                    hint="used when no account is named",
                )
                yield Label("IMAP (incoming mail)", classes="section-title")
                yield Field(
                    "IMAP host",
                    Input(
                        value("imap_host"),
                        id="imap_host",
                        compact=True,
                        placeholder="imap.example.com",
                    ),
                    name="imap_host",
                    hint="leave empty: no incoming sync",
                )
                yield Field(
                    "IMAP port",
                    Input(value("imap_port", "993"), id="imap_port", type="integer", compact=True),
                    name="imap_port",
                    hint="993 (TLS) or 143",
                )
                yield Field(
                    "Username",
                    Input(
                        value("imap_username"),
                        id="imap_username",
                        compact=True,
                        placeholder="(the email)",
                    ),
                    name="imap_username",
                )
                yield secret_field("Password", "imap_password", stored=has_password)
                yield Field(
                    "Use TLS/SSL",
                    Toggle(value=a["imap_tls"] if a else True, id="imap_tls"),
                    name="imap_tls",
                )
                yield Field(
                    "Folder",
                    Input(value("imap_folder", "INBOX"), id="imap_folder", compact=True),
                    name="imap_folder",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(
                    "Save" if a else "Add account", id="save", variant="primary", compact=True
                )

    def on_mount(self) -> None:
        self.query_one("#display_name" if self.account else "#email", Input).focus()
        self.call_after_refresh(self._remember_values)

    def _remember_values(self) -> None:
        self.opened_with = self.values()

    def unsaved(self) -> bool:
        return self.opened_with is not None and self.values() != self.opened_with

    def values(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            value = self.query_one(f"#{name}", Input).value
            if name == "imap_password" and not value:
                continue
            if name == "email" and self.account is not None:
                continue
            if name == "imap_port" and not value.strip():
                value = "993"
            data[name] = value
        server = self.query_one("#mail_server_id", Select).value
        data["mail_server_id"] = None if server is Select.NULL else server
        data["is_default"] = self.query_one("#is_default", Switch).value
        data["imap_tls"] = self.query_one("#imap_tls", Switch).value
        if not data["imap_folder"].strip():
            data["imap_folder"] = "INBOX"
        return data

    def validate_form(self, *, all_fields: bool = False) -> None:
        data = self.values()
        for name, value in data.items():
            if name == "mail_server_id":
                missing = value is None and (all_fields or name in self.touched)
                self.form.set(
                    name, "is required: the outbound server of the account" if missing else None
                )
                continue
            error = accounts.field_error(name, value)
            if name in ("email", "display_name") and not str(value).strip():
                error = "is required" if all_fields or name in self.touched else None
            self.form.set(name, error)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self.touched.add(event.input.id)
            self.validate_form()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id:
            self.touched.add(event.select.id)
            self.validate_form()

    def action_save(self) -> None:
        if not self.ready_to_save():
            return
        account_id = self.account["id"] if self.account else None
        self.save(account_id, self.values(), self.version)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, account_id: int | None, values: dict[str, Any], version: str | None) -> None:
        with reporting(self, "save", SaveFailed):
            email = accounts.save(self.ctx, self.slug, account_id, values, version)
            self.post_message(Saved(email))

    def changed_here(self) -> dict[str, Any]:
        """The fields edited since the form opened (a typed password among them)."""
        opened = self.opened_with or {}
        return {k: v for k, v in self.values().items() if k not in opened or opened[k] != v}

    @on(SaveFailed)
    def edit_conflict(self, message: SaveFailed) -> None:
        """Someone else saved the account since the form opened: ask; the edits stay either way."""
        from tui.screens import edit_conflict

        if self.account is None:
            return
        account_id = self.account["id"]
        # Overwrite sends only the fields changed here, so their other changes survive.
        edit_conflict.offer(self, message, lambda: self.save(account_id, self.changed_here(), None))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.notify(f"Saved {message.value}")
        self.dismiss(True)
