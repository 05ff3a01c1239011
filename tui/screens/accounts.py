"""Email accounts of a tenant: last sync, messages, last error; add/edit, sync, default, delete."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.data import accounts as data
from tui.data.accounts import AccountsView
from tui.jobs import JobFailed, Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import EmptyTable, enter_binding, enter_reaches_table
from tui.widgets.spinner import Spinner
from tui.widgets.tables import Fit, FitTable, RowDetail, filled, one_line

NEED_SERVER = (
    "An email account needs one of the tenant's mail servers for its outbound mail: "
    "add a mail server first (Servers, 2)."
)
SYNC_STOPPED = "sync stopped: authentication failed — fix the password (e) or press sync now (s)"


class AccountsLoaded(Result[AccountsView]):
    """The tenant's accounts and the servers they may use."""


class SyncProgress(Message, bubble=False):
    def __init__(self, account: dict[str, Any], done: int, total: int) -> None:
        super().__init__()
        self.account = account
        self.done = done
        self.total = total


class Synced(Message, bubble=False):
    """A sync ended; `result` is core.services.inbound's SyncResult."""

    def __init__(self, account_id: int, result: Any) -> None:
        super().__init__()
        self.account_id = account_id
        self.result = result


class SyncFailed(JobFailed):
    def __init__(self, error: BaseException, job: str, account_id: int = 0) -> None:
        super().__init__(error, job)
        self.account_id = account_id


class DefaultSet(Result[str]):
    """The address of the tenant's default account now."""


class AccountDeleted(Result[None]):
    pass


class AccountsScreen(MainScreen):
    MODE = "accounts"
    PAGE_TITLE = "Email accounts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="accounts.add", tooltip="Add an email account"),
        Binding("e", "edit", "Edit", id="accounts.edit", tooltip="Edit the selected account"),
        Binding("s", "sync", "Sync now", id="accounts.sync", tooltip="Sync the inbox now"),
        enter_binding("Messages", id="accounts.open", tooltip="Messages synced for the account"),
        Binding("m", "messages", "Messages", show=False, id="accounts.messages"),
        Binding(
            "asterisk,D",
            "default",
            "Default",
            id="accounts.default",
            tooltip="Make it the tenant's default account",
        ),
        Binding("d,delete", "delete", "Delete", id="accounts.delete"),
        Binding("r", "refresh", "Refresh", show=False, id="accounts.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: AccountsView | None = None
        self.syncing: dict[int, str] = {}

    def compose_body(self) -> ComposeResult:
        yield Static("", id="accounts-note", classes="summary")
        yield FitTable(
            id="accounts", cursor_type="row", zebra_stripes=True, detail="#accounts-detail"
        )
        yield EmptyTable(id="accounts-empty")
        yield RowDetail(id="accounts-detail")
        yield Spinner(id="sync-spinner")

    def on_mount(self) -> None:
        table = self.query_one("#accounts", FitTable)
        table.add_fit_column("", key="mark", width=1)
        # The address says which account: it keeps width longest; the error gives way first.
        table.add_fit_column("Email", key="email", fit=Fit(min=14, priority=3))
        table.add_fit_column("Name", key="name", fit=Fit(min=6))
        table.add_fit_column("Server", key="server", fit=Fit(min=8))
        table.add_fit_column("Last sync", key="sync", fit=Fit(min=10, priority=2))
        table.add_fit_column("Msgs", key="count", fit=Fit(shrink=False))
        table.add_fit_column("Last error", key="error", fit=Fit(min=10, priority=0))

    def reload(self) -> None:
        table = self.query_one("#accounts", DataTable)
        if self.slug is None:
            table.clear()
            filled(table)
            self.view = None
            self.query_one("#accounts-note", Static).update(
                Text("Email accounts belong to a tenant: pick one on Tenants (2).", style="yellow")
            )
            return
        self.load(self.slug)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str) -> None:
        with reporting(self, "load"):
            self.post_message(AccountsLoaded(data.load(self.ctx, slug)))

    def action_refresh(self) -> None:
        self.reload()

    @on(AccountsLoaded)
    def show(self, message: AccountsLoaded) -> None:
        view = self.view = message.value
        note = self.query_one("#accounts-note", Static)
        stopped = [a["email"] for a in view.accounts if a.get("sync_state") == "stopped"]
        if not view.servers:
            note.update(Text(f"⚠ {NEED_SERVER}", style="yellow"))
        elif stopped:
            note.update(Text(f"✗ {', '.join(stopped)}: {SYNC_STOPPED}", style="bold red"))
        else:
            note.update(
                Text("a add · s sync now · Enter messages · * default · d delete", style="dim")
            )
        table = self.query_one("#accounts", DataTable)
        cursor = table.cursor_row
        table.clear()
        filled(table)
        for account in view.accounts:
            server = view.servers.get(account["mail_server_id"] or 0)
            table.add_row(
                fmt.yes(account["default"]),
                account["email"],
                account["display_name"],
                server or Text("none", style="bold red"),
                self._sync_cell(account),
                str(account["message_count"]),
                Text(one_line(account["last_error"]), style="red"),
                key=str(account["id"]),
            )
        self.query_one("#accounts-empty", EmptyTable).explain(
            table,
            f"No email accounts for {self.slug} yet — press a to add one"
            if view.servers
            else "No email accounts yet: an account needs a mail server first (see above)",
        )
        if view.accounts:
            table.move_cursor(row=min(cursor, len(view.accounts) - 1))

    def _sync_cell(self, account: dict[str, Any]) -> Text:
        if account["id"] in self.syncing:
            return Text(f"⟳ {self.syncing[account['id']]}", style="bold cyan")
        if not account["imap_host"]:
            return Text("no IMAP", style="dim")
        state = account.get("sync_state")
        if state == "stopped":
            return Text("✗ sync stopped", style="bold red")
        if state == "retrying":
            due = fmt.when(account.get("next_sync_at"), empty="soon")
            return Text(f"! retry {due}", style="yellow")
        return Text(fmt.when(account["last_sync_at"], empty="never"))

    # -- selection -------------------------------------------------------------------------

    def selected(self) -> dict[str, Any] | None:
        if self.view is None or not self.view.accounts:
            return None
        table = self.query_one("#accounts", DataTable)
        return self.view.accounts[min(table.cursor_row, len(self.view.accounts) - 1)]

    def _need_selection(self) -> dict[str, Any] | None:
        account = self.selected()
        if account is None:
            self.notify("Select an email account first", severity="warning")
        return account

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_messages()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return enter_reaches_table(self, action)

    def action_open_row(self) -> None:
        self.action_messages()

    # -- actions ---------------------------------------------------------------------------

    def action_add(self) -> None:
        from tui.screens.account_form import AccountFormScreen

        if self.view is None:
            self.notify("Pick a tenant first (Tenants, 1)", severity="warning")
            return
        if not self.view.servers:
            self.notify(
                NEED_SERVER, title="Cannot add an account yet", severity="warning", timeout=8
            )
            return
        assert self.slug is not None
        screen = AccountFormScreen(self.slug, None, self.view.servers)
        self.app.push_screen(screen, self._after_form)

    def _after_form(self, saved: bool | None) -> None:
        if saved:
            self.reload()

    def action_edit(self) -> None:
        from tui.screens.account_form import AccountFormScreen

        account = self._need_selection()
        if account is not None and self.view is not None and self.slug is not None:
            screen = AccountFormScreen(self.slug, account, self.view.servers)
            self.app.push_screen(screen, self._after_form)

    def action_messages(self) -> None:
        from tui.screens.messages import MessagesScreen

        account = self._need_selection()
        if account is not None and self.slug is not None:
            self.app.push_screen(MessagesScreen(self.slug, account))

    def action_sync(self) -> None:
        account = self._need_selection()
        if account is None:
            return
        account_id = account["id"]
        if account_id in self.syncing:
            self.notify(f"{account['email']} is syncing already")
            return
        self.syncing[account_id] = "starting…"
        self._show_progress(account)
        self.sync(account)

    @work(group="sync", exit_on_error=False)
    async def sync(self, account: dict[str, Any]) -> None:
        """Network work (IMAP): on the event loop; one worker per account."""
        account_id = account["id"]

        def progress(done: int, total: int) -> None:
            self.post_message(SyncProgress(account, done, total))

        try:
            result = await data.sync(self.ctx, account_id, progress)
        except Exception as exc:
            self.post_message(SyncFailed(exc, "sync", account_id))
        else:
            self.post_message(Synced(account_id, result))

    @on(SyncProgress)
    def sync_progress(self, message: SyncProgress) -> None:
        if message.account["id"] in self.syncing:
            self.syncing[message.account["id"]] = f"{message.done}/{message.total}"
            self._show_progress(message.account)

    def _show_progress(self, account: dict[str, Any]) -> None:
        state = self.syncing.get(account["id"])
        spinner = self.query_one("#sync-spinner", Spinner)
        if state is not None:
            message = f"Syncing {account['email']}… {state}"
            spinner.set_message(message) if spinner.running else spinner.start(message)
        elif not self.syncing:
            spinner.stop()
        table = self.query_one("#accounts", DataTable)
        # The row may be gone (a reload): the next load shows the outcome then.
        with contextlib.suppress(Exception):
            table.update_cell(str(account["id"]), "sync", self._sync_cell(account))

    @on(Synced)
    def synced(self, message: Synced) -> None:
        result = message.result
        self.syncing.pop(message.account_id, None)
        if result.ok:
            self.notify(f"Synced: {result.fetched} new, {result.message_count} in total")
        else:
            self.notify(
                result.error or "sync failed", title="Sync failed", severity="error", timeout=8
            )
        if not self.syncing:
            self.query_one("#sync-spinner", Spinner).stop()
        self.reload()

    @on(SyncFailed)
    def sync_failed(self, message: SyncFailed) -> None:
        self.syncing.pop(message.account_id, None)
        if not self.syncing:
            self.query_one("#sync-spinner", Spinner).stop()
        self.reload()

    def action_default(self) -> None:
        account = self._need_selection()
        if account is None or self.slug is None:
            return
        if account["default"]:
            self.notify(f"{account['email']} is the default already")
            return
        self.make_default(self.slug, account["id"])

    @work(thread=True, group="change", exit_on_error=False)
    def make_default(self, slug: str, account_id: int) -> None:
        with reporting(self, "default"):
            self.post_message(DefaultSet(data.make_default(self.ctx, slug, account_id)))

    @on(DefaultSet)
    def default_set(self, message: DefaultSet) -> None:
        self.notify(f"{message.value} is now the default account")
        self.reload()

    def action_delete(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        account = self._need_selection()
        if account is None or self.slug is None:
            return
        name = account["display_name"] or account["email"]
        slug = self.slug
        question = f"Are you sure you want to delete the account {name}? This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(slug, account["id"])

        self.app.push_screen(ConfirmScreen(question), answered)

    @work(thread=True, group="change", exit_on_error=False)
    def delete(self, slug: str, account_id: int) -> None:
        with reporting(self, "delete"):
            data.delete(self.ctx, slug, account_id)
            self.post_message(AccountDeleted(None))

    @on(AccountDeleted)
    def deleted(self, _: AccountDeleted) -> None:
        self.notify("Email account deleted")
        self.reload()
