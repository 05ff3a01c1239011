"""The audit log: who changed what, from where (TUI, CLI, Slack, API). Field names only."""

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
from tui.widgets.tables import Fit, FitTable, filled, one_line, time_header

SOURCE_STYLE = {"tui": "cyan", "cli": "magenta", "slack": "green", "api": "yellow"}


class EntriesLoaded(Result[list[dict[str, Any]]]):
    """Audit entries, newest first."""


def entry_line(entry: dict[str, Any]) -> Text:
    """One audit entry with nothing cut: who, from where, what, on what, which fields."""
    line = Text()
    line.append(f"{fmt.when(entry['at'])}  {entry['actor']} ({entry['source']})  ")
    line.append(entry["action"], style="bold")
    if entry["target"]:
        line.append(f"  {entry['target']}")
    line.append(f"  · tenant {entry['tenant']}" if entry["tenant"] else "  · system")
    if entry["fields"]:
        line.append(f"\nFields changed: {', '.join(entry['fields'])}", style="dim")
    return line


class AuditScreen(MainScreen):
    MODE = "audit"
    PAGE_TITLE = "Audit log"
    AUTO_FOCUS = "#audit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="audit.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="audit-note", classes="summary muted")
        yield FitTable(id="audit", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-detail", classes="summary")

    def on_mount(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.query_one("#audit-detail", Static).display = False
        table = self.query_one("#audit", FitTable)
        # What changed and on what keep width longest; the fields give way first (the line under
        # the table shows the highlighted entry whole).
        for key, label, fit in (
            ("at", time_header("Time"), Fit(shrink=False)),
            ("actor", "Who", Fit(min=8)),
            ("source", "From", Fit(min=5)),
            ("tenant", "Tenant", Fit(min=6)),
            ("action", "What", Fit(min=12, priority=3)),
            ("target", "Target", Fit(min=10, priority=2)),
            ("fields", "Fields changed", Fit(priority=0)),
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
            f"Newest first, {scope} (last {audit.LIMIT}). Values are never recorded, only field "
            "names."
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
                Text(", ".join(e["fields"]), style="dim"),
                key=str(e["id"]),
            )
        if not entries:
            table.add_row("", Text("Nothing recorded yet", style="dim"))
        self.query_one("#audit-detail", Static).display = bool(entries)

    @on(DataTable.RowHighlighted, "#audit")
    def describe(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted entry whole, under the table (its cells may end with "…")."""
        entry = self.entries.get(str(event.row_key.value))
        self.query_one("#audit-detail", Static).update(entry_line(entry) if entry else "")
