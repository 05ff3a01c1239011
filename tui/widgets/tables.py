"""DataTable helpers."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def filled(table: DataTable[Any]) -> None:
    """Call after (re)filling a table: drop row renders cached before the column widths were
    updated (a frame drawn between `add_row` and the width update could otherwise stay)."""
    table.call_after_refresh(table.notify_style_update)
