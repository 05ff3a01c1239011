"""Enter on a table's row, advertised in the footer, and the line an empty table shows instead.

A DataTable binds Enter itself (select the row, not shown), so a page's own Enter binding never
reached the footer while the table had focus: the page's binding takes priority, and stands aside
(`enter_reaches_table`) when another widget has focus, so Enter still submits a filter or presses a
button.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

OPEN_ROW = "open_row"


def enter_binding(description: str, *, id: str, tooltip: str = "") -> Binding:
    """Enter runs the page's `action_open_row` while its table has focus, and says so."""
    return Binding(
        "enter", OPEN_ROW, description, id=id, tooltip=tooltip, priority=True, key_display="⏎"
    )


def enter_reaches_table(screen: Screen[Any], action: str) -> bool | None:
    """`check_action` for a page with `enter_binding`: off (and out of the footer) unless a table
    with a row to open has focus. Call `screen.refresh_bindings()` after filling the table."""
    if action != OPEN_ROW:
        return True
    focused = screen.focused
    return isinstance(focused, DataTable) and focused.row_count > 0


class EmptyTable(Static):
    """The line under a table with no rows: why it is empty and what to do (hidden otherwise)."""

    DEFAULT_CLASSES = "muted empty-table"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False

    def explain(self, table: DataTable[object], why: str) -> None:
        """Show `why` when `table` is empty; refresh the footer (Enter has a row to open or not)."""
        self.update(why)
        self.display = table.row_count == 0
        table.set_class(self.display, "-empty")
        self.screen.refresh_bindings()
