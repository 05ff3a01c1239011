"""Captured mail (demo only): what the local capture SMTP server of `mailbell demo` received."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.data.captured import Captured, read_captured
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.tables import filled

REFRESH_S = 2.0


class CapturedLoaded(Result[list[Captured]]):
    """The captured messages, newest first."""


class CapturedScreen(MainScreen):
    MODE = "captured"
    PAGE_TITLE = "Captured mail"
    AUTO_FOCUS = "#captured"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="captured.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Captured] = []
        self.seen: tuple[str, ...] = ()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="captured-note", classes="summary muted")
        yield DataTable(id="captured", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="captured-body"):
            yield Static("", id="captured-message", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#captured", DataTable)
        for key, label in (
            ("date", "Received"),
            ("from", "From"),
            ("to", "To"),
            ("subject", "Subject"),
        ):
            table.add_column(label, key=key)
        self.set_interval(REFRESH_S, self.action_refresh)

    def reload(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        demo = self.mb.demo
        if demo is not None and self.is_current:
            self.load(demo.capture_dir)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, folder: Path) -> None:
        with reporting(self, "load"):
            self.post_message(CapturedLoaded(read_captured(folder)))

    @on(CapturedLoaded)
    def show(self, message: CapturedLoaded) -> None:
        items = message.value
        names = tuple(item.name for item in items)
        demo = self.mb.demo
        address = demo.capture_address if demo else ""
        self.query_one("#captured-note", Static).update(
            f"The demo's capture server ({address}) keeps every message it receives; nothing "
            "leaves this machine. Recipients starting with 'bounce' are refused (550)."
        )
        if names == self.seen:
            return
        self.seen = names
        self.items = items
        table = self.query_one("#captured", DataTable)
        table.clear()
        filled(table)
        for item in items:
            table.add_row(
                item.date,
                fmt.clip(item.sender, 30),
                fmt.clip(item.to, 30),
                item.subject,
                key=item.name,
            )
        if not items:
            table.add_row(
                "", Text("Nothing captured yet — send a test email (Settings, ^e)", style="dim")
            )
        self._show()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show()

    def _show(self) -> None:
        widget = self.query_one("#captured-message", Static)
        if not self.items:
            widget.update("")
            return
        row = min(self.query_one("#captured", DataTable).cursor_row, len(self.items) - 1)
        item = self.items[row]
        text = Text()
        for label, value in (("From", item.sender), ("To", item.to), ("Subject", item.subject)):
            text.append(f"{label}: ", style="bold")
            text.append(value + "\n")
        text.append("\n" + item.body)
        widget.update(text)
