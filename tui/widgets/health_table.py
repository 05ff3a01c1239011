"""The health table: a DataTable whose state cells (`✗ critical`) take their colours from the
stylesheet, so the glyph and the word carry the state and the theme colours it; and `ago`, the
relative times the Health pages show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable

from core.vocabulary import HEALTH_GLYPHS, HealthState
from tui import format as fmt


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """`just now`, `12 min ago`, `3 h ago`, `4 d ago`."""
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = max(((now or fmt.now()) - value).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


class HealthTable(DataTable[Any]):
    """A DataTable whose state cells take their colours from the stylesheet (app.tcss)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"health--{state.value}" for state in HealthState
    }

    def state(self, state: HealthState) -> Text:
        """`✗ critical`: the glyph and the word, coloured by the theme."""
        style = self.get_component_rich_style(f"health--{state.value}", partial=True)
        return Text(f"{HEALTH_GLYPHS[state]} {state.value}", style=style)
