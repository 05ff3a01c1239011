"""DataTable helpers."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

# The zone of every time a table shows (tui.format.when: mailbell keeps and shows UTC).
TABLE_ZONE = "UTC"


def time_header(label: str) -> str:
    """A time column's header naming the zone its values are in: "Time (UTC)"."""
    return f"{label} ({TABLE_ZONE})"


def filled(table: DataTable[Any]) -> None:
    """Call after (re)filling a table: drop row renders cached before the column widths were
    updated (a frame drawn between `add_row` and the width update could otherwise stay)."""
    table.call_after_refresh(table.notify_style_update)
