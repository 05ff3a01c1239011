"""Mail servers of the system or of a tenant: status, add/edit, test, set default, delete."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.data import servers as data
from tui.data.servers import ServersView
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import EmptyTable, enter_binding, enter_reaches_table
from tui.widgets.tables import Fit, FitTable, filled


class ServersLoaded(Result[ServersView]):
    """The page's servers and which one sends the mail."""


class DefaultSet(Result[str]):
    """The name of the server that is the default now."""


class ServerDeleted(Result[str]):
    """What the delete did, as a sentence."""


def effective_line(view: ServersView, slug: str | None) -> Text:
    line = _effective_text(view, slug)
    if view.effective_note:
        line.append(f"\n⇄ {view.effective_note}.", style="cyan")
    return line


def _effective_text(view: ServersView, slug: str | None) -> Text:
    if view.effective_name is None:
        who = "The system" if slug is None else f"Tenant {slug}"
        return Text(
            f"⚠ {who} has no mail server that can send: press a to add one.",
            style="bold yellow",
        )
    if view.effective_source == "system" and slug is not None and view.effective_note:
        return Text(
            f"● Mail is sent through the system server {view.effective_name!r} "
            "(use the system's server).",
            style="green",
        )
    if view.effective_source == "system" and slug is not None:
        return Text(
            f"● Mail is sent through the system server {view.effective_name!r} "
            "(apply to all tenants). A default server added here takes over.",
            style="green",
        )
    return Text(f"● Mail is sent through {view.effective_name!r} (the default).", style="green")


def _login_cell(server: dict[str, Any]) -> Text | None:
    """A server that cannot log in shows why in place of its last test (not colour alone)."""
    if server["authorization"] == "revoked":
        return Text("✗ authorization revoked", style="bold red")
    if server["credentials_paused_until"] is not None:
        return Text("✗ credentials refused", style="bold red")
    return None


class ServersScreen(MainScreen):
    MODE = "servers"
    PAGE_TITLE = "Mail servers"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="servers.add", tooltip="Add a mail server"),
        enter_binding("Edit", id="servers.open", tooltip="Edit the selected server"),
        Binding("e", "edit", "Edit", show=False, id="servers.edit"),
        Binding(
            "t", "test", "Test", id="servers.test", tooltip="Test connection (nothing is sent)"
        ),
        Binding("asterisk,D", "default", "Default", id="servers.default", tooltip="Make default"),
        Binding("d,delete", "delete", "Delete", id="servers.delete", tooltip="Delete the server"),
        Binding("r", "refresh", "Refresh", show=False, id="servers.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: ServersView | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="effective", classes="summary")
        yield FitTable(id="servers", cursor_type="row", zebra_stripes=True)
        yield EmptyTable(id="servers-empty")
        yield Static(
            "★ default  ● sends the mail now  ·  t tests the connection (nothing is sent)",
            classes="muted hint-line",
        )

    def on_mount(self) -> None:
        table = self.query_one("#servers", FitTable)
        table.add_fit_column("", key="mark", width=2)
        # The name and the last test say which server and whether it works: they keep width.
        table.add_fit_column("Name", key="name", fit=Fit(min=10, priority=3))
        table.add_fit_column("Host", key="host", fit=Fit(min=12, priority=2))
        table.add_fit_column("Security", key="security", fit=Fit(min=8))
        table.add_fit_column("Auth", key="auth", fit=Fit(min=6))
        table.add_fit_column("Last test", key="test", fit=Fit(min=12, priority=3))

    def reload(self) -> None:
        self.load(self.slug)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(ServersLoaded(data.load(self.ctx, slug)))

    def action_refresh(self) -> None:
        self.reload()

    @on(ServersLoaded)
    def show(self, message: ServersLoaded) -> None:
        view = self.view = message.value
        summary = effective_line(view, self.slug)
        for server in view.servers:  # a server that cannot log in says what to do, here
            if server["problem"]:
                summary.append(f"\n✗ {server['name']}: {server['problem']}", style="bold red")
        self.query_one("#effective", Static).update(summary)
        table = self.query_one("#servers", DataTable)
        selected = self.selected_id()
        table.clear()
        filled(table)
        for server in view.servers:
            mark = Text()
            mark.append("★" if server["default"] else " ", style="bold yellow")
            mark.append("●" if server["id"] == view.effective_id else " ", style="bold green")
            table.add_row(
                mark,
                server["name"],
                f"{server['host']}:{server['port']}",
                server["security"],
                server["auth"],
                _login_cell(server)
                or fmt.outcome(server["last_test_ok"], when_=server["last_test_at"]),
                key=str(server["id"]),
            )
        where = "the system" if self.slug is None else f"tenant {self.slug}"
        self.query_one("#servers-empty", EmptyTable).explain(
            table, f"No mail servers for {where} yet — press a to add one"
        )
        if selected is not None and str(selected) in {str(s["id"]) for s in view.servers}:
            table.move_cursor(row=table.get_row_index(str(selected)))

    # -- selection -------------------------------------------------------------------------

    def selected_id(self) -> int | None:
        table = self.query_one("#servers", DataTable)
        if table.row_count == 0 or self.view is None or not self.view.servers:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key and key.isdigit() else None

    def selected(self) -> dict[str, Any] | None:
        server_id = self.selected_id()
        if self.view is None or server_id is None:
            return None
        return next((s for s in self.view.servers if s["id"] == server_id), None)

    def _need_selection(self) -> dict[str, Any] | None:
        server = self.selected()
        if server is None:
            self.notify("Select a mail server first (or press a to add one)", severity="warning")
        return server

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self.selected() is not None:
            self.action_edit()
        else:
            self.action_add()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return enter_reaches_table(self, action)

    def action_open_row(self) -> None:
        self.action_edit()

    # -- actions ---------------------------------------------------------------------------

    def action_add(self) -> None:
        from tui.screens.server_form import ServerFormScreen

        self.app.push_screen(ServerFormScreen(self.slug, None), self._after_form)

    def action_edit(self) -> None:
        from tui.screens.server_form import ServerFormScreen

        server = self._need_selection()
        if server is not None:
            self.app.push_screen(ServerFormScreen(self.slug, server), self._after_form)

    def _after_form(self, saved: bool | None) -> None:
        if saved:
            self.reload()

    def action_test(self) -> None:
        from tui.screens.connection_test import ConnectionTestScreen

        server = self._need_selection()
        if server is not None:
            screen = ConnectionTestScreen(self.slug, server_id=server["id"], label=server["name"])
            self.app.push_screen(screen, lambda _: self.reload())

    def action_default(self) -> None:
        server = self._need_selection()
        if server is None:
            return
        if server["default"]:
            self.notify(f"{server['name']} is the default already")
            return
        self.make_default(server["id"])

    @work(thread=True, group="change", exit_on_error=False)
    def make_default(self, server_id: int) -> None:
        with reporting(self, "default"):
            self.post_message(DefaultSet(data.make_default(self.ctx, self.slug, server_id)))

    @on(DefaultSet)
    def default_set(self, message: DefaultSet) -> None:
        self.notify(f"{message.value} is now the default mail server")
        self.reload()

    def action_delete(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        server = self._need_selection()
        if server is None:
            return
        question = f"Are you sure you want to delete {server['name']}? This cannot be undone."
        detail = "Email accounts that use it lose their outbound mail server."

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(server["id"])

        self.app.push_screen(ConfirmScreen(question, detail=detail), answered)

    @work(thread=True, group="change", exit_on_error=False)
    def delete(self, server_id: int) -> None:
        with reporting(self, "delete"):
            self.post_message(ServerDeleted(data.delete(self.ctx, self.slug, server_id)))

    @on(ServerDeleted)
    def deleted(self, message: ServerDeleted) -> None:
        self.notify(message.value)
        self.reload()
