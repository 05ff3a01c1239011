"""The email templates (the 14 of the PortSIP API, mailbell's 2 health alerts and DIGEST, the
message of a burst's held events) with their default/custom badge and the languages the owner
has custom templates in; Enter opens the editor."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui.data import templates
from tui.data.templates import LANGUAGES_WIDTH, TemplateRow
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import enter_binding, enter_reaches_table
from tui.widgets.tables import Fit, FitTable, RowDetail, filled
from tui.widgets.worker_banner import queued_note


class TemplatesLoaded(Result[list[TemplateRow]]):
    """The templates of the scope, in catalogue order."""


class SampleEmitted(Result[str]):
    """What became of the sample event, as a sentence."""


BADGE_WIDTH = len(" default ")


def badge(row: TemplateRow) -> Text:
    return (
        Text(" custom ", style="bold black on yellow")
        if row.custom
        else Text(" default ", style="dim")
    )


def _toggle(row: TemplateRow) -> str:
    if row.toggle:
        return row.toggle.removeprefix("notify_")
    # DIGEST has no switch: each event's digest policy (Settings) decides when one goes out
    return "digest policies" if row.scope == "any" else "always on"


class TemplatesScreen(MainScreen):
    MODE = "templates"
    PAGE_TITLE = "Email templates"
    QUEUES_MAIL = True
    BINDINGS: ClassVar[list[BindingType]] = [
        enter_binding("Edit", id="templates.open", tooltip="Open the editor"),
        Binding("e", "open", "Edit", show=False, id="templates.edit"),
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
        yield FitTable(
            id="templates", cursor_type="row", zebra_stripes=True, detail="#templates-cut"
        )
        # The selected event's description and switch: a column of its own would not fit 80
        # columns next to Languages.
        yield Static("", id="templates-detail", classes="hint-line")
        yield RowDetail(id="templates-cut")  # the values the columns cut, whole

    def on_mount(self) -> None:
        table = self.query_one("#templates", FitTable)
        # The event's name says which row: it keeps its width longest; the audience gives way
        # first (the editor shows it whole too).
        table.add_fit_column("Template", key="name", fit=Fit(min=12, priority=3))
        table.add_fit_column("", key="badge", width=BADGE_WIDTH)
        table.add_fit_column("Languages", key="languages", fit=Fit(min=9))
        table.add_fit_column("Scope", key="scope", fit=Fit(shrink=False))
        table.add_fit_column("Sent to", key="audience", fit=Fit(min=8, priority=0))

    def reload(self) -> None:
        self.load(self.slug)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(TemplatesLoaded(templates.load_rows(self.ctx, slug)))

    def action_refresh(self) -> None:
        self.reload()

    @on(TemplatesLoaded)
    def show(self, message: TemplatesLoaded) -> None:
        rows = self.rows = message.value
        note = (
            "System events are customised here; tenant events per tenant (pick one on Tenants)."
            if self.slug is None
            else f"Tenant events are customised for {self.slug} only; system events at system "
            "level."
        )
        self.query_one("#templates-note", Static).update(note)
        table = self.query_one("#templates", FitTable)
        cursor = table.cursor_row
        table.clear()
        filled(table)
        for row in rows:
            style = "" if row.editable else "dim"
            table.add_row(
                Text(row.name, style=style or "bold"),
                badge(row),
                Text(
                    templates.languages(row.locales, LANGUAGES_WIDTH) or "—",
                    style=style if row.locales else "dim",
                ),
                Text(row.scope, style=style),
                Text(row.audience, style=style),
                key=row.name,
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self.refresh_bindings()  # Enter has a row to open now
        self.describe()

    def describe(self) -> None:
        row = self.selected()
        text = Text()
        if row is not None:
            text.append(row.name, style="bold")
            text.append(f"  toggle: {_toggle(row)}")
            if row.locales:
                text.append(f"  custom: {row.languages}")
        self.query_one("#templates-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.describe()

    def selected(self) -> TemplateRow | None:
        table = self.query_one("#templates", DataTable)
        if not self.rows:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return enter_reaches_table(self, action)

    def action_open_row(self) -> None:
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
        if row.scope == "any":
            self.notify(
                f"{row.name} is not an event: mailbell sends it when a burst's window closes "
                "(the preview in the editor shows it)",
                severity="warning",
            )
            return
        if not row.editable:
            where = "the system" if row.scope == "system" else "a tenant"
            self.notify(
                f"{row.name} is emitted for {where}: switch scope first", severity="warning"
            )
            return
        self.emit(self.slug, row.name)

    @work(thread=True, group="emit", exit_on_error=False)
    def emit(self, slug: str | None, name: str) -> None:
        with reporting(self, "emit"):
            self.post_message(SampleEmitted(templates.emit_sample(self.ctx, slug, name)))

    @on(SampleEmitted)
    def emitted(self, message: SampleEmitted) -> None:
        note = queued_note(self.app) if " queued" in message.value else ""
        self.notify(message.value + note, timeout=6)
