"""One health subject: its state in full, what to do about it, and its history of changes.

The actions fit the subject: every subject can be checked again now (a mail server's "test now"
checks its owner's subjects); an email account can be synced now (which also lifts a stop after
an authentication failure); a mail server whose OAuth authorization was revoked can be
re-authorized here, and the page shows the shell command that does the same. Muting silences the
subject's alerts and reminders for 24 h (audited); its state goes on being checked and shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.widgets.data_table import ColumnKey

from tui import format as fmt
from tui.data import health as data
from tui.jobs import JobFailed, Result, ShowsFailures, reporting
from tui.widgets.health_table import HealthTable, ago
from tui.widgets.spinner import Spinner

if TYPE_CHECKING:
    from core.models.health import HealthChangeRead, HealthRead

Detail = tuple["HealthRead", list["HealthChangeRead"]]
WHEN_WIDTH, STATE_WIDTH = 20, 10


class DetailLoaded(Result[Detail]):
    """The subject and its history, newest first."""


class ActionDone(Message, bubble=False):
    """An action finished: what to tell the user, and whether it went well."""

    def __init__(self, text: str, ok: bool = True) -> None:
        super().__init__()
        self.text = text
        self.ok = ok


class ActionFailed(JobFailed):
    pass


class SyncProgress(Message, bubble=False):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


def facts(read: HealthRead, table: HealthTable) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    muted = data.muted(read)
    rows: list[tuple[str, Any]] = [
        ("Subject", read.subject),
        ("Kind", data.kind_label(read.kind)),
        ("Owner", f"tenant {read.tenant}" if read.tenant else "system"),
        ("State", table.state(read.state)),
        ("Reason", read.reason or "—"),
        ("Since", f"{fmt.stamp(read.since)} ({ago(read.since)})"),
        ("Last checked", f"{fmt.stamp(read.checked_at)} ({ago(read.checked_at)})"),
        (
            "Alerts",
            f"muted until {fmt.stamp(read.muted_until)}" if muted else "on",
        ),
    ]
    for name, value in read.detail.items():
        if name not in {"action", "server_id"} and isinstance(value, str | int | float | bool):
            rows.append((name.replace("_", " ").capitalize(), str(value)))
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else Text(str(value)))
    return grid


def todo(read: HealthRead, actions: data.Actions) -> Text:
    """What can be done about it, with the keys (and the shell command for re-authorizing)."""
    text = Text("What to do\n", style="bold")
    action = read.detail.get("action")
    if isinstance(action, str) and action:
        text.append(f"{action}\n")
    keys = [f"t {actions.check_label.lower()}"]
    if actions.authorize_command:
        keys.append("a re-authorize here")
    if actions.account_id is not None:
        keys.append("s sync now")
    keys.append("u unmute" if data.muted(read) else "m mute alerts 24 h")
    text.append(" · ".join(keys), style="dim")
    if actions.authorize_command:
        text.append("\nFrom a shell: ")
        text.append(actions.authorize_command, style="bold")
    return text


class HealthDetailScreen(ShowsFailures, Screen[None]):
    PAGE_TITLE = "Health subject"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="health-detail.back"),
        Binding(
            "t",
            "check",
            "Test now",
            id="health-detail.test",
            tooltip="Test the mail server now (with its owner's other subjects)",
        ),
        Binding(
            "t",
            "check_other",
            "Check now",
            id="health-detail.check",
            tooltip="Run the checks of this subject's owner now",
        ),
        Binding(
            "a",
            "authorize",
            "Re-authorize",
            id="health-detail.authorize",
            tooltip="Authorize the mail server's XOAUTH2 access again",
        ),
        Binding("s", "sync", "Sync now", id="health-detail.sync", tooltip="Sync the account now"),
        Binding(
            "m",
            "mute",
            "Mute 24 h",
            id="health-detail.mute",
            tooltip="No alerts or reminders about it for 24 h (it is still checked)",
        ),
        Binding("u", "unmute", "Unmute", id="health-detail.unmute", tooltip="Alerts again"),
        Binding("f5,r", "refresh", "Refresh", show=False, id="health-detail.refresh"),
    ]

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.read: HealthRead | None = None
        self.busy = False

    @property
    def ctx(self) -> Any:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with VerticalScroll(id="health-detail"):
            yield Static("Loading…", id="health-facts", classes="summary")
            yield Static("", id="health-todo", classes="summary")
            yield Static("", id="health-history-title", classes="summary")
            yield HealthTable(id="health-history", cursor_type="row", show_cursor=False)
        yield Spinner(id="health-detail-spinner")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#health-history", HealthTable)
        table.add_column("When", key="at", width=WHEN_WIDTH)
        table.add_column("State", key="state", width=STATE_WIDTH)
        table.add_column("Reason", key="reason", width=self._reason_width())
        self.action_refresh()

    def _reason_width(self) -> int:
        # The screen less the other columns, the cells' padding, the page's and the scrollbar.
        return max(self.app.size.width - WHEN_WIDTH - STATE_WIDTH - 3 * 2 - 2 - 2, 20)

    def on_resize(self) -> None:
        table = self.query_one("#health-history", HealthTable)
        table.columns[ColumnKey("reason")].width = self._reason_width()
        table.refresh(layout=True)

    # -- loading ---------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        with reporting(self, "load"):
            self.post_message(DetailLoaded(data.detail(self.ctx, self.key)))

    @on(DetailLoaded)
    def show(self, message: DetailLoaded) -> None:
        read, changes = message.value
        self.read = read
        self.sub_title = f"health · {read.subject}"
        table = self.query_one("#health-history", HealthTable)
        self.query_one("#health-facts", Static).update(facts(read, table))
        self.query_one("#health-todo", Static).update(Group(Text(""), todo(read, self.actions)))
        title = Text("History", style="bold")
        title.append(
            f" — {len(changes)} change(s), newest first" if changes else " — no change yet",
            style="dim",
        )
        self.query_one("#health-history-title", Static).update(Group(Text(""), title))
        table.clear()
        table.display = bool(changes)
        for number, change in enumerate(changes):
            table.add_row(
                Text(f"{fmt.when(change.at)} ({ago(change.at)})"),
                table.state(change.state),
                Text(change.reason or "—"),
                height=None,
                key=str(number),
            )
        self.refresh_bindings()

    @property
    def actions(self) -> data.Actions:
        assert self.read is not None
        return data.actions(self.read)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"back", "refresh"}:
            return True
        if self.read is None:
            return False
        kind = self.read.kind
        return {
            "check": kind == "mail_server",
            "check_other": kind != "mail_server",
            "authorize": self.actions.authorize_command is not None,
            "sync": self.actions.account_id is not None,
            "mute": not data.muted(self.read),
            "unmute": data.muted(self.read),
        }.get(action, True)

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def _start(self, message: str) -> bool:
        if self.busy:
            self.notify("Wait for the running action to finish", severity="warning")
            return False
        self.busy = True
        self.query_one("#health-detail-spinner", Spinner).start(message)
        return True

    def _finish(self) -> None:
        self.busy = False
        self.query_one("#health-detail-spinner", Spinner).stop()
        self.action_refresh()
        self.app.refresh_health()  # type: ignore[attr-defined]

    def action_check(self) -> None:
        read = self.read
        if read is None:
            return
        owner = f"tenant {read.tenant}" if read.tenant else "the system"
        if self._start(f"Checking {owner}'s subjects now…"):
            self.run_check(read.tenant)

    def action_check_other(self) -> None:
        self.action_check()

    @work(exclusive=True, group="action", exit_on_error=False)
    async def run_check(self, tenant: str | None) -> None:
        """Network work (SMTP, IMAP, Slack): on the event loop."""
        with reporting(self, "check", ActionFailed):
            reads = await data.check(self.ctx, tenant, system=tenant is None)
            now = next((r for r in reads if r.key == self.key), None)
            if now is None:
                self.post_message(ActionDone("Checked: this subject is no longer watched", False))
            else:
                said = f"{now.state.value}" + (f": {now.reason}" if now.reason else "")
                self.post_message(
                    ActionDone(f"Checked. It is {said} (a state changes once two checks agree)")
                )

    def action_sync(self) -> None:
        if self.read is None or self.actions.account_id is None:
            return
        if self._start(f"Syncing {self.read.subject}…"):
            self.run_sync(self.actions.account_id)

    @work(exclusive=True, group="action", exit_on_error=False)
    async def run_sync(self, account_id: int) -> None:
        """Network work (IMAP): on the event loop, like the Accounts page's sync."""

        def progress(done: int, total: int) -> None:
            self.post_message(SyncProgress(done, total))

        with reporting(self, "sync", ActionFailed):
            result = await data.sync(self.ctx, account_id, progress)
            if result.ok:
                text = f"Synced: {result.fetched} new, {result.message_count} in total"
                self.post_message(ActionDone(text))
            else:
                self.post_message(ActionDone(f"Sync failed: {result.error}", ok=False))

    @on(SyncProgress)
    def sync_progress(self, message: SyncProgress) -> None:
        if self.read is not None:
            self.query_one("#health-detail-spinner", Spinner).set_message(
                f"Syncing {self.read.subject}… {message.done}/{message.total}"
            )

    def action_mute(self) -> None:
        if self._start("Muting…"):
            self.run_mute(data.MUTE_HOURS)

    def action_unmute(self) -> None:
        if self._start("Unmuting…"):
            self.run_mute(0)

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def run_mute(self, hours: float) -> None:
        with reporting(self, "mute", ActionFailed):
            read = data.mute(self.ctx, self.key, hours)
            if read.muted_until is None:
                self.post_message(ActionDone(f"Alerts about {read.subject} are on again"))
            else:
                until = fmt.stamp(read.muted_until)
                self.post_message(ActionDone(f"No alerts about {read.subject} until {until}"))

    def action_authorize(self) -> None:
        from tui.screens.oauth import OAuthScreen

        read, server_id = self.read, self.actions.server_id if self.read else None
        if read is None or server_id is None:
            return

        def authorized(done: bool | None) -> None:
            if done:
                self.notify("Authorized again: press t to test the server now")
                self.action_refresh()

        self.app.push_screen(OAuthScreen(read.tenant, server_id), authorized)

    @on(ActionDone)
    def done(self, message: ActionDone) -> None:
        self._finish()
        self.notify(message.text, severity="information" if message.ok else "error", timeout=8)

    @on(ActionFailed)
    def failed(self, _: ActionFailed) -> None:
        self._finish()  # the failure itself is shown by ShowsFailures
