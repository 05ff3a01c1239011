"""The audit log: who changed what, from where (TUI, CLI, Slack, API). Field names only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.screens.base import MainScreen
from tui.widgets.tables import filled

if TYPE_CHECKING:
    from core.context import Context

LIMIT = 500
SOURCE_STYLE = {"tui": "cyan", "cli": "magenta", "slack": "green", "api": "yellow"}


def load_entries(ctx: Context, slug: str | None) -> list[dict[str, Any]]:
    from core.services.audit import list_entries

    with ctx.session() as session:
        return [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "source": e.source,
                "tenant": e.tenant,
                "action": e.action,
                "target": e.target,
                "fields": list(e.fields),
            }
            for e in list_entries(session=session, tenant=slug, limit=LIMIT)
        ]


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
            ("at", "Time"),
            ("actor", "Who"),
            ("source", "From"),
            ("tenant", "Tenant"),
            ("action", "What"),
            ("target", "Target"),
            ("fields", "Fields changed"),
        ):
            table.add_column(label, key=key)

    def reload(self) -> None:
        self.run_job("load", load_entries, self.ctx, self.slug)

    def action_refresh(self) -> None:
        self.reload()

    def done_load(self, entries: list[dict[str, Any]]) -> None:
        scope = "every change" if self.slug is None else f"changes to tenant {self.slug}"
        self.query_one("#audit-note", Static).update(
            f"Newest first, {scope} (last {LIMIT}). Values are never recorded, only field names."
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
