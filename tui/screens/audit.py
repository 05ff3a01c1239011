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
from tui.widgets.tables import filled, time_header

SOURCE_STYLE = {"tui": "cyan", "cli": "magenta", "slack": "green", "api": "yellow"}


class EntriesLoaded(Result[list[dict[str, Any]]]):
    """Audit entries, newest first."""


class AuditScreen(MainScreen):
    MODE = "audit"
    PAGE_TITLE = "Audit log"
    AUTO_FOCUS = "#audit"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="audit.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="audit-note", classes="summary muted")
        yield DataTable(id="audit", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#audit", DataTable)
        for key, label in (
            ("at", time_header("Time")),
            ("actor", "Who"),
            ("source", "From"),
            ("tenant", "Tenant"),
            ("action", "What"),
            ("target", "Target"),
            ("fields", "Fields changed"),
        ):
            table.add_column(label, key=key)

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
        scope = "every change" if self.slug is None else f"changes to tenant {self.slug}"
        self.query_one("#audit-note", Static).update(
            f"Newest first, {scope} (last {audit.LIMIT}). Values are never recorded, only field "
            "names."
        )
        table = self.query_one("#audit", DataTable)
        table.clear()
        filled(table)
        for e in entries:
            table.add_row(
                fmt.when(e["at"]),
                e["actor"],
                Text(e["source"], style=SOURCE_STYLE.get(e["source"], "")),
                e["tenant"] or Text("system", style="dim"),
                e["action"],
                e["target"] or "",
                Text(fmt.clip(", ".join(e["fields"]), 50), style="dim"),
                key=str(e["id"]),
            )
        if not entries:
            table.add_row("", Text("Nothing recorded yet", style="dim"))
