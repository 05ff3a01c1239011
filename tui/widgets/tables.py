"""DataTable helpers, and `FitTable`: a DataTable whose columns fit the screen.

The fitting rule: each column wants the width of its widest value (or its label). When the wants
fit in the table's width, content decides. When they do not, the columns that may shrink give up
width, lowest priority first, down to their minimum (never below the label, so every header stays
readable); a value longer than its column ends with "…" (the detail view shows it whole). Columns
are refitted after every fill and on every resize, so one long value never widens a column for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import RenderableType
from rich.measure import Measurement
from rich.protocol import is_renderable
from rich.text import Text
from textual import events
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from tui.widgets.health_table import HealthTable

# The zone of every time a table shows (tui.format.when: mailbell keeps and shows UTC).
TABLE_ZONE = "UTC"


def time_header(label: str) -> str:
    """A time column's header naming the zone its values are in: "Time (UTC)"."""
    return f"{label} ({TABLE_ZONE})"


def filled(table: DataTable[Any]) -> None:
    """Call after (re)filling a table: drop row renders cached before the column widths were
    updated (a frame drawn between `add_row` and the width update could otherwise stay), and
    refit a `FitTable` to the rows it now holds."""
    table.call_after_refresh(table.notify_style_update)
    if isinstance(table, FitTable):
        table.call_after_refresh(table.refit)


@dataclass(frozen=True)
class Fit:
    """How one column gives way when the table is too narrow.

    `min`: the narrowest it gets (raised to the label's width); `priority`: higher keeps its width
    longer; `shrink`: False keeps the column as wide as its content (short codes, times)."""

    min: int = 0
    priority: int = 1
    shrink: bool = True


def plan_widths(
    wants: list[int], floors: list[int], fits: list[Fit], room: int, padding: int
) -> list[int]:
    """Content widths for the columns so that, padding included, they fit in `room` cells.

    The rule itself, apart from any widget so it can be tested with plain numbers."""
    widths = list(wants)
    excess = sum(widths) + padding * len(widths) - room
    for index in sorted(range(len(widths)), key=lambda i: (fits[i].priority, -i)):
        if excess <= 0:
            break
        if not fits[index].shrink:
            continue
        give = min(excess, widths[index] - floors[index])
        if give > 0:
            widths[index] -= give
            excess -= give
    return widths


def one_line(value: str | None) -> str:
    """A value on one line (a table row is one line; the detail keeps the line breaks)."""
    return " ".join((value or "").split())


def _ellipsized(cell: object) -> object:
    """A cell that ends with "…" when its column is narrower than it (strings are markup, as
    DataTable reads them)."""
    if isinstance(cell, str):
        cell = Text.from_markup(cell, end="")
    if isinstance(cell, Text):
        cell.no_wrap = True
        cell.overflow = "ellipsis"
    return cell


class FitTable(DataTable[Any]):
    """A DataTable whose columns fit its width (the rule in the module docstring)."""

    def __init__(self, *, detail: str | None = None, **kwargs: Any) -> None:
        """`detail`: the selector of a RowDetail that shows the highlighted row's cut values."""
        super().__init__(**kwargs)
        self._detail = detail
        self._fits: dict[ColumnKey, Fit] = {}
        self._fixed: set[ColumnKey] = set()

    def add_fit_column(
        self, label: str | Text, *, key: str, fit: Fit | None = None, width: int | None = None
    ) -> ColumnKey:
        """Add a column with how it gives way; `width` fixes it (a mark column)."""
        column_key = self.add_column(label, key=key, width=width)
        self._fits[column_key] = fit or Fit()
        if width is not None:
            self._fixed.add(column_key)
        return column_key

    def add_row(
        self,
        *cells: Any,
        height: int | None = 1,
        key: str | None = None,
        label: Any = None,
    ) -> RowKey:
        return super().add_row(*map(_ellipsized, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, _ellipsized(value), update_width=False)

    def on_resize(self, _: events.Resize) -> None:
        self.refit()

    def room(self) -> int:
        """The cells the columns may use: the table's width less a vertical scrollbar when the
        rows overflow (it takes its cells from the columns)."""
        region = self.content_region  # inside the table's padding and border
        width = region.width
        if self.row_count > max(region.height - self.header_height, 0):
            width -= self.styles.scrollbar_size_vertical
        return width

    def refit(self) -> None:
        """Set every column's width by the rule, for the rows the table holds now."""
        if not self.columns or self.size.width == 0:
            return
        console = self.app.console
        keys = list(self.columns)
        fits = [
            Fit(shrink=False) if key in self._fixed else self._fits.get(key, Fit()) for key in keys
        ]
        wants: list[int] = []
        floors: list[int] = []
        for key, fit in zip(keys, fits, strict=True):
            column = self.columns[key]
            label = cell_len(column.label.plain)
            if key in self._fixed:
                wants.append(column.width)
                floors.append(column.width)
                continue
            want = max([label, *(self._measure(console, cell) for cell in self.get_column(key))])
            wants.append(want)
            floors.append(min(want, max(label, fit.min)))
        widths = plan_widths(wants, floors, fits, self.room(), 2 * self.cell_padding)
        changed = False
        for key, width in zip(keys, widths, strict=True):
            column = self.columns[key]
            if column.auto_width or column.width != width:
                column.auto_width = False
                column.width = width
                changed = True
        if changed:
            # DataTable recomputes its scrollable size and redraws only when told to.
            self._require_update_dimensions = True
            self.notify_style_update()
        self._show_detail()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_focus(self, _: events.Focus) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        if self._detail is None or not self.is_mounted:
            return
        detail = self.screen.query_one(self._detail, RowDetail)
        shown = detail.table
        if shown is not None and shown is not self and shown.has_focus and not self.has_focus:
            return  # a detail shared by several tables shows the focused one's row
        detail.table = self
        if self.row_count == 0:
            detail.display = False
            return
        detail.show(self, self.coordinate_to_cell_key(self.cursor_coordinate).row_key)

    def cut_values(self, row_key: RowKey | str) -> list[tuple[str, Text]]:
        """The row's values longer than their column, whole: (column label, value)."""
        console = self.app.console
        cut: list[tuple[str, Text]] = []
        for column, cell in zip(self.ordered_columns, self.get_row(row_key), strict=False):
            if self._measure(console, cell) > column.width and not column.auto_width:
                whole = cell.copy() if isinstance(cell, Text) else Text(str(cell))
                whole.overflow = "fold"
                whole.no_wrap = False
                cut.append((column.label.plain, whole))
        return cut

    @staticmethod
    def _measure(console: Any, cell: object) -> int:
        if isinstance(cell, Text):
            return max((cell_len(line) for line in cell.plain.splitlines()), default=0)
        if isinstance(cell, str) or not is_renderable(cell):
            return cell_len(str(cell))
        renderable: RenderableType = cell  # type: ignore[assignment]
        return Measurement.get(console, console.options, renderable).maximum


class RowDetail(Static):
    """The line under a FitTable: the highlighted row's values its columns cut, whole (hidden when
    nothing is cut), for tables whose rows have no detail screen. Tables stacked on one page may
    share one: it shows the focused table's row."""

    DEFAULT_CLASSES = "summary row-detail"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False
        self.table: FitTable | None = None  # the table whose row it shows (several may share it)

    def show(self, table: FitTable, row_key: RowKey) -> None:
        cut = table.cut_values(row_key) if row_key in table.rows else []
        line = Text()
        for label, value in cut:
            if line:
                line.append("\n")
            line.append(f"{label}: ", style="bold")
            line.append_text(value)
        self.update(line)
        self.display = bool(cut)


class HealthFitTable(HealthTable, FitTable):
    """A FitTable whose state cells (`✗ critical`) take the theme's colours (HealthTable).
    HealthTable first: Textual's CSS follows the first base, where the state colours are."""
