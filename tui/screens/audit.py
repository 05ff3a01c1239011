"""The audit log: who changed what, from where (TUI, CLI, Slack, API), from what to what.

The table shows each entry's changes short (cut with "…"); the line under it shows the highlighted
entry whole, with the names of the fields it changed; Enter opens that line into one line per
field, `before → after` (a secret's "changed", never its value), and Enter again closes it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.data import audit
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import enter_binding, enter_reaches_table
from tui.widgets.tables import Fit, FitTable, filled, one_line, time_header

SOURCE_STYLE = {"tui": "cyan", "cli": "magenta", "slack": "green", "api": "yellow"}


class EntriesLoaded(Result[list[dict[str, Any]]]):
    """Audit entries, newest first."""


# The open detail's field lines: at most this share of the page's height (the table keeps the
# rest), the last line then saying how many more there are.
DETAIL_SHARE = 0.5
NAME_WIDTH_MAX = 24


def head_line(entry: dict[str, Any]) -> Text:
    """Who, from where, what, on what."""
    line = Text()
    line.append(f"{fmt.when(entry['at'])}  {entry['actor']} ({entry['source']})  ")
    line.append(entry["action"], style="bold")
    if entry["target"]:
        line.append(f"  {entry['target']}")
    line.append(f"  · tenant {entry['tenant']}" if entry["tenant"] else "  · system")
    return line


def entry_line(entry: dict[str, Any]) -> Text:
    """One audit entry with nothing cut: who, from where, what, on what, which fields."""
    line = head_line(entry)
    if entry["fields"]:
        line.append(f"\nFields changed: {', '.join(entry['fields'])}", style="dim")
        if any(values for _, values in entry["changes"]):
            line.append("  (⏎ before → after)", style="dim")
    return line


def changes_lines(entry: dict[str, Any], room: int) -> Text:
    """The entry's first line, then a line per changed field, `name  before → after`, in at most
    `room` lines (the last then counts the rest)."""
    text = head_line(entry)
    changes: list[tuple[str, str]] = entry["changes"]
    if not changes:
        text.append("\nNo field values recorded.", style="dim")
        return text
    width = min(max(len(name) for name, _ in changes), NAME_WIDTH_MAX)
    shown = changes if len(changes) <= room else changes[: max(room - 1, 1)]
    for name, values in shown:
        text.append("\n")
        text.append(name.ljust(width), style="bold")
        text.append(f"  {values}" if values else "  (no values recorded)")
    if len(shown) < len(changes):
        text.append(
            f"\n… {len(changes) - len(shown)} more fields (a taller window shows them)",
            style="dim",
        )
    return text


class AuditScreen(MainScreen):
    MODE = "audit"
    PAGE_TITLE = "Audit log"
    AUTO_FOCUS = "#audit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="audit.refresh"),
        enter_binding(
            "Before → after",
            id="audit.open",
            tooltip="Each field the entry changed, before and after (Enter again: one line)",
        ),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="audit-note", classes="summary muted")
        yield FitTable(id="audit", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-detail", classes="summary")

    def on_mount(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.opened = False  # the detail shows before → after, a line per field
        self.query_one("#audit-detail", Static).display = False
        table = self.query_one("#audit", FitTable)
        # What changed and on what keep width longest; the changes give way first (the line
        # under the table shows the highlighted entry whole, Enter every value).
        for key, label, fit in (
            ("at", time_header("Time"), Fit(shrink=False)),
            ("actor", "Who", Fit(min=8)),
            ("source", "From", Fit(min=5)),
            ("tenant", "Tenant", Fit(min=6)),
            ("action", "What", Fit(min=12, priority=3)),
            ("target", "Target", Fit(min=10, priority=2)),
            ("changes", "Fields changed", Fit(priority=0)),
        ):
            table.add_fit_column(label, key=key, fit=fit)

    def reload(self) -> None:
        self.load(self.slug)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(EntriesLoaded(audit.load_entries(self.ctx, slug)))

    def action_refresh(self) -> None:
        self.reload()

    @on(EntriesLoaded)
    def show(self, message: EntriesLoaded) -> None:
        entries = message.value
        self.entries = {str(e["id"]): e for e in entries}
        scope = "every change" if self.slug is None else f"changes to tenant {self.slug}"
        self.query_one("#audit-note", Static).update(
            f'Newest first, {scope} (last {audit.LIMIT}). A secret reads "changed": its '
            "value is never recorded."
        )
        table = self.query_one("#audit", FitTable)
        table.clear()
        filled(table)
        for e in entries:
            table.add_row(
                fmt.when(e["at"]),
                e["actor"],
                Text(e["source"], style=SOURCE_STYLE.get(e["source"], "")),
                e["tenant"] or Text("system", style="dim"),
                e["action"],
                one_line(e["target"]),
                Text(e["summary"], style="dim"),
                key=str(e["id"]),
            )
        if not entries:
            table.add_row("", Text("Nothing recorded yet", style="dim"))
        self.query_one("#audit-detail", Static).display = bool(entries)
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#audit")
    def describe(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted entry whole, under the table (its cells may end with "…")."""
        self.show_detail(str(event.row_key.value))

    def show_detail(self, key: str | None) -> None:
        entry = self.entries.get(key or "")
        detail = self.query_one("#audit-detail", Static)
        if entry is None:
            detail.update("")
        elif self.opened:
            detail.update(changes_lines(entry, max(int(self.size.height * DETAIL_SHARE) - 1, 2)))
        else:
            detail.update(entry_line(entry))

    def highlighted_key(self) -> str | None:
        table = self.query_one("#audit", FitTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_row()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return enter_reaches_table(self, action)

    def action_open_row(self) -> None:
        """Open (or close) the highlighted entry's before → after; it stays open while the
        cursor moves, so each entry reads the same way."""
        self.opened = not self.opened
        self.show_detail(self.highlighted_key())
