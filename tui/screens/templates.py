"""The 14 email templates with their default/custom badge; Enter opens the editor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui.runtime import owner
from tui.screens.base import MainScreen
from tui.widgets.tables import filled

if TYPE_CHECKING:
    from core.context import Context

AUDIENCE = {
    "tenant_recipients": "tenant recipients",
    "payload_email": "the payload's email",
    "payload_email_or_tenant_recipients": "new user (or recipients)",
    "system_recipients": "system recipients",
}


@dataclass(frozen=True)
class TemplateRow:
    name: str
    scope: str
    audience: str
    toggle: str | None
    custom: bool
    editable: bool


def load_templates(ctx: Context, slug: str | None) -> list[TemplateRow]:
    from core.catalog import NAMES
    from core.services.templates import template_details

    rows = []
    with ctx.session() as session:
        tenant = owner(session, slug)
        for name in NAMES:
            details = template_details(session=session, tenant=tenant, name=name)
            scope = details["scope"]
            rows.append(
                TemplateRow(
                    name=name,
                    scope=scope,
                    audience=AUDIENCE.get(details["audience"], details["audience"]),
                    toggle=details["toggle"],
                    custom=details["custom"] is not None,
                    editable=(scope == "system") == (slug is None),
                )
            )
    return rows


def badge(row: TemplateRow) -> Text:
    return (
        Text(" custom ", style="bold black on yellow")
        if row.custom
        else Text(" default ", style="dim")
    )


class TemplatesScreen(MainScreen):
    MODE = "templates"
    PAGE_TITLE = "Email templates"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,e", "open", "Edit", id="templates.edit", tooltip="Open the editor"),
        Binding(
            "x",
            "emit",
            "Send sample",
            id="templates.emit",
            tooltip="Emit this event with its sample payload (see it in the delivery log)",
        ),
        Binding("r", "refresh", "Refresh", show=False, id="templates.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[TemplateRow] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="templates-note", classes="summary muted")
        yield DataTable(id="templates", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#templates", DataTable)
        table.add_column("Template", key="name")
        table.add_column("", key="badge")
        table.add_column("Scope", key="scope")
        table.add_column("Sent to", key="audience")
        table.add_column("Toggle", key="toggle")

    def reload(self) -> None:
        self.run_job("load", load_templates, self.ctx, self.slug)

    def action_refresh(self) -> None:
        self.reload()

    def done_load(self, rows: list[TemplateRow]) -> None:
        self.rows = rows
        note = (
            "System events are customised here; tenant events per tenant (pick one on Tenants)."
            if self.slug is None
            else f"Tenant events are customised for {self.slug} only; system events at system "
            "level."
        )
        self.query_one("#templates-note", Static).update(note)
        table = self.query_one("#templates", DataTable)
        cursor = table.cursor_row
        table.clear()
        filled(table)
        for row in rows:
            style = "" if row.editable else "dim"
            table.add_row(
                Text(row.name, style=style or "bold"),
                badge(row),
                Text(row.scope, style=style),
                Text(row.audience, style=style),
                Text((row.toggle or "always on").removeprefix("notify_"), style=style or "dim"),
                key=row.name,
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def selected(self) -> TemplateRow | None:
        table = self.query_one("#templates", DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from tui.screens.template_editor import TemplateEditorScreen

        row = self.selected()
        if row is not None:
            editor = TemplateEditorScreen(self.slug, row.name, editable=row.editable)
            self.app.push_screen(editor, lambda _: self.reload())

    def action_emit(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not row.editable:
            where = "the system" if row.scope == "system" else "a tenant"
            self.notify(
                f"{row.name} is emitted for {where}: switch scope first", severity="warning"
            )
            return
        self.run_job("emit", emit_sample, self.ctx, self.slug, row.name)

    def done_emit(self, summary: str) -> None:
        self.notify(summary, timeout=6)


def emit_sample(ctx: Context, slug: str | None, name: str) -> str:
    """Emit `name` with its sample payload, as `mailbell emit` would."""
    from core.catalog import sample
    from core.pipeline.emit import emit

    with ctx.session() as session:
        tenant = owner(session, slug)
        result = emit(session=session, box=ctx.box, tenant=tenant, event=name, data=sample(name))
        states = [
            f"#{d.id} {d.status}" + (f" ({d.last_error})" if d.last_error else "")
            for d in result.deliveries
        ]
    return f"{name} emitted: " + (", ".join(states) or "no deliveries") + " — see Deliveries (6)"
