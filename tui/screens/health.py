"""Health: every subject mailbell watches (mail servers, email accounts, Slack, queues, the
service itself), worst first, each with a glyph and its state in words (colour is a help, never
the only sign), its reason and since when.

The rows come from the app's periodic read (one timer for the banner and this page); opening the
page reads again. `c` runs every check now; Enter opens a subject's history and actions.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from core.vocabulary import HEALTH_GLYPHS, HEALTH_SEVERITY, HealthState
from tui import format as fmt
from tui.data import health as data
from tui.jobs import JobFailed, Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.health_table import ago
from tui.widgets.row_keys import EmptyTable
from tui.widgets.spinner import Spinner
from tui.widgets.tables import Fit, HealthFitTable, filled, one_line

if TYPE_CHECKING:
    from core.models.health import HealthRead

WIDE = 120  # from this width on, kinds in words and absolute times
SHORT_KINDS = {"mail_server": "server", "email_account": "account", "slack": "Slack"}


# State, kind and time are short and say the most: never cut. The reason (whole under the
# table) gives way first, down to a readable start; then the subject keeps its width longest.
COLUMNS: tuple[tuple[str, str, Fit], ...] = (
    ("state", "State", Fit(shrink=False)),
    ("kind", "Kind", Fit(shrink=False)),
    ("tenant", "Tenant", Fit(min=6)),
    ("subject", "Subject", Fit(min=12, priority=2)),
    ("reason", "Reason", Fit(min=20, priority=0)),
    ("since", "Since", Fit(shrink=False)),
)


class Checked(Result[list["HealthRead"]]):
    """The states after a check-now pass."""


class CheckFailed(JobFailed):
    pass


def since_text(value: datetime, *, wide: bool) -> str:
    return f"{ago(value)} · {fmt.when(value)}" if wide else ago(value)


def worst_first(reads: list[HealthRead]) -> list[HealthRead]:
    """Critical, warning, unknown, ok; the store's order (system first) within each."""
    rank = {HealthState.UNKNOWN: 0.5}
    return sorted(reads, key=lambda r: -rank.get(r.state, HEALTH_SEVERITY[r.state]))


def counts_text(reads: list[HealthRead]) -> str:
    parts = []
    for state in (HealthState.CRITICAL, HealthState.WARNING, HealthState.UNKNOWN, HealthState.OK):
        count = sum(1 for r in reads if r.state == state)
        if count:
            parts.append(f"{HEALTH_GLYPHS[state]} {count} {state.value}")
    return " · ".join(parts)


class HealthScreen(MainScreen):
    MODE = "health"
    PAGE_TITLE = "Health"
    AUTO_FOCUS = "#health"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open", "History", id="health.open", tooltip="A subject's history and actions"
        ),
        Binding(
            "c",
            "check",
            "Check now",
            id="health.check",
            tooltip="Run every check now (mail servers are contacted, nothing is sent)",
        ),
        Binding("r", "refresh", "Refresh", show=False, id="health.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[HealthRead] = []
        self.checking = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="health-note", classes="summary muted")
        yield HealthFitTable(id="health", cursor_type="row", zebra_stripes=True)
        yield EmptyTable(id="health-empty")
        yield Static("", id="health-selected", classes="summary")
        yield Spinner(id="health-spinner")

    def on_mount(self) -> None:
        table = self.query_one("#health", HealthFitTable)
        for key, label, fit in COLUMNS:
            table.add_fit_column(label, key=key, fit=fit)
        self.watch(self.mb, "health", self.show, init=True)
        self.watch(self.mb, "theme", lambda: self.show(self.mb.health), init=False)

    def on_resize(self) -> None:
        self.show(self.mb.health)

    # -- loading ---------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.sync_scope(force=True)  # every subject whatever the scope: read again on each visit

    def reload(self) -> None:
        self.mb.refresh_health()

    def action_refresh(self) -> None:
        self.reload()

    def show(self, reads: list[HealthRead]) -> None:
        table = self.query_one("#health", HealthFitTable)
        selected = self.selected()
        self.reads = worst_first(reads)
        wide = self.size.width >= WIDE
        table.clear()
        filled(table)
        for read in self.reads:
            table.add_row(*self._cells(table, read, wide), key=read.key)
        self.query_one("#health-empty", EmptyTable).explain(
            table,
            "Nothing checked yet: mailbell serve checks every subject on its interval. "
            "Press c to check now.",
        )
        counts = counts_text(self.reads)
        hint = " — Enter: history and actions"
        fits = len(counts) + len(hint) <= self.size.width - 2
        self.query_one("#health-note", Static).update(counts + hint if fits else counts)
        keys = [r.key for r in self.reads]
        if selected is not None and selected.key in keys:
            table.move_cursor(row=keys.index(selected.key))
        self._describe_selected()

    def _cells(self, table: HealthFitTable, read: HealthRead, wide: bool) -> tuple[Any, ...]:
        kind = data.kind_label(read.kind) if wide else SHORT_KINDS.get(read.kind, read.kind)
        subject = Text(read.subject)
        if data.muted(read):
            subject.append(" ⊘", style="dim")  # alerts muted
        tenant = Text("system", style="dim") if read.tenant is None else Text(read.tenant)
        return (
            table.state(read.state),
            Text(kind),
            tenant,
            subject,
            Text(one_line(read.reason) or "—"),
            Text(since_text(read.since, wide=wide)),
        )

    # -- selection -------------------------------------------------------------------------

    def selected(self) -> HealthRead | None:
        if not self.reads:
            return None
        table = self.query_one("#health", HealthFitTable)
        return self.reads[min(table.cursor_row, len(self.reads) - 1)]

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._describe_selected()

    def _describe_selected(self) -> None:
        """The selected subject in full under the table: the columns may cut the reason."""
        line = self.query_one("#health-selected", Static)
        read = self.selected()
        if read is None:
            line.update("")
            return
        table = self.query_one("#health", HealthFitTable)
        owner = f"tenant {read.tenant}" if read.tenant else "system"
        text = Text.assemble(
            table.state(read.state),
            (f"  {read.subject}", "bold"),
            f" ({data.kind_label(read.kind)}, {owner}) since {fmt.stamp(read.since)}",
            f", checked {ago(read.checked_at)}",
            ", alerts muted (⊘)" if data.muted(read) else "",
        )
        if read.reason:
            text.append(f"\n{read.reason}")
        line.update(text)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    # -- actions ---------------------------------------------------------------------------

    def action_open(self) -> None:
        from tui.screens.health_detail import HealthDetailScreen

        read = self.selected()
        if read is None:
            self.notify("Nothing to show yet: press c to check now", severity="warning")
            return
        self.app.push_screen(HealthDetailScreen(read.key), lambda _: self.reload())

    def action_check(self) -> None:
        if self.checking:
            self.notify("Checking already…")
            return
        self.checking = True
        self.query_one("#health-spinner", Spinner).start(
            "Checking every subject now (mail servers are contacted; nothing is sent)…"
        )
        self.run_check()

    @work(exclusive=True, group="check", exit_on_error=False)
    async def run_check(self) -> None:
        """Network work (SMTP, IMAP, Slack): on the event loop; the database on threads."""
        with reporting(self, "check", CheckFailed):
            self.post_message(Checked(await data.check(self.ctx)))

    @on(Checked)
    def checked(self, message: Checked) -> None:
        self._check_done()
        reads = message.value
        self.notify(
            f"Checked {len(reads)} subjects: {counts_text(reads) or 'nothing to check'}. "
            "A state changes once two checks in a row agree.",
            title="Health checked",
            timeout=8,
        )
        self.reload()

    @on(CheckFailed)
    def check_failed(self, _: CheckFailed) -> None:
        self._check_done()

    def _check_done(self) -> None:
        self.checking = False
        self.query_one("#health-spinner", Spinner).stop()
