"""Overview: every tenant and the system at a glance, live, for an operator to leave open.

A row per tenant the session may see (the system first, for a system admin): who sends its mail,
its worst health, its deliveries of the last 24 h, the last hour as a sparkline, the age of the
oldest waiting delivery. The first read paints a screenful in full and names the other tenants;
their facts follow from a full read at once (bench/overview.py). Then a one-second timer reads
the rows in sight and the system in a thread (skipped while a read runs), and every tenant every
FULL_EVERY seconds and on each visit (off-screen rows matter for the sort and the filter). Rows
that changed are updated in place: the cursor and the scroll stay.
`s` cycles the sort (or click a header), `/` filters by slug or name, Enter opens a tenant.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from tui.data import overview as data
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.health_table import HealthTable
from tui.widgets.tables import filled

if TYPE_CHECKING:
    from core.services.overview import OverviewRow
    from core.vocabulary import HealthState

SYSTEM_KEY = "__system__"
WIDE = 120  # from this width on, the server column says "not configured" in full
REFRESH_SECONDS = 1.0
FULL_EVERY = 30.0
# (column key, header); the sort's order is tui.data.overview.SORTS.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant", "Tenant"),
    ("server", "Server"),
    ("health", "Health"),
    ("sent", "Sent"),
    ("failed", "Fail"),
    ("queued", "Queue"),
    ("hour", "Last hour"),
    ("oldest", "Oldest"),
)
# The cells of a row not counted yet: one set for every such row (1,000 at the first paint).
PENDING = tuple(Text("…", style="dim") for _ in COLUMNS[1:])


class OverviewLoaded(Result[tuple[list["OverviewRow"], bool]]):
    """The system's row and every tenant's (True) or those in sight (False)."""


class OverviewScreen(MainScreen):
    MODE = "overview"
    PAGE_TITLE = "Overview"
    AUTO_FOCUS = "#overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="overview.open", tooltip="Work on the selected row"),
        Binding("s", "sort", "Sort", id="overview.sort", tooltip="Sort by the next column"),
        Binding("slash", "filter", "Filter", id="overview.filter", tooltip="Filter by tenant"),
        Binding("escape", "clear_filter", "Clear", show=False, id="overview.clear"),
        Binding("r", "refresh", "Refresh", show=False, id="overview.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[OverviewRow] = []
        self.sort = "tenant"
        self.filter_text = ""
        self.reading = False
        self.full_at = 0.0  # monotonic time of the last read of every tenant
        self._painted: dict[str, OverviewRow] = {}  # by row key: what each row shows
        self._states: dict[HealthState, Text] = {}

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: slug or name (Esc clears)", id="overview-filter")
        yield HealthTable(id="overview", cursor_type="row", zebra_stripes=True)
        yield Static("", id="overview-hint", classes="muted hint-line")

    def on_mount(self) -> None:
        self.query_one("#overview-filter", Input).display = False
        self._columns()
        self.set_interval(REFRESH_SECONDS, self.tick, name="overview-refresh")

    def on_resize(self) -> None:
        self._columns()
        self._render_rows(rebuild=True)

    def _columns(self) -> None:
        table = self.query_one("#overview", HealthTable)
        wide = self.size.width >= WIDE
        widths = {
            "server": 14 if wide else 6,
            "health": 10,
            "sent": 6 if wide else 5,
            "failed": 6 if wide else 5,
            "queued": 6 if wide else 5,
            "hour": 12,
            "oldest": 7 if wide else 6,
        }
        # What is left after the fixed columns, their padding (2 each) and the scrollbar.
        tenant = max(self.size.width - sum(widths.values()) - 2 * len(COLUMNS) - 2, 8)
        widths["tenant"] = min(tenant, 40)
        table.clear(columns=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key, width=widths[key])
        self.widths = widths

    # -- reading ---------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.sync_scope(force=True)  # every tenant whatever the scope: read again on each visit

    def reload(self) -> None:
        self.full_at = 0.0
        self.tick()

    def action_refresh(self) -> None:
        self.reload()

    def tick(self) -> None:
        """Start a read unless one runs, the page is hidden or the database is not open yet."""
        if self.reading or self.mb.ctx is None or not self.is_current:
            return
        self.reading = True
        full = not self.rows or time.monotonic() - self.full_at >= FULL_EVERY
        if full:
            self.full_at = time.monotonic()
        # The first read paints a screenful in full and names the other tenants at once; the
        # day's counts of 1,000 tenants follow (a full read takes ~0.2 s at 1 M deliveries).
        first = max(self.size.height, 24) if not self.rows else None
        self.read(None if full else self.in_sight(), first)

    def in_sight(self) -> list[int]:
        table = self.query_one("#overview", HealthTable)
        first = int(table.scroll_y)
        keys = {str(row.key.value) for row in table.ordered_rows[first : first + table.size.height]}
        return [r.tenant_id for r in self.rows if r.tenant_id is not None and r.slug in keys]

    @work(thread=True, group="overview", exit_on_error=False)
    def read(self, tenant_ids: list[int] | None, first: int | None = None) -> None:
        chained = False  # a first read with rows to count: the full read follows, still reading
        try:
            with reporting(self, "overview"):
                if first is not None:
                    rows = data.load_first(self.ctx, first)
                    chained = any(row.pending for row in rows)
                else:
                    rows = data.load(self.ctx, tenant_ids)
                self.post_message(OverviewLoaded((rows, tenant_ids is None)))
        finally:
            if not chained:
                self.reading = False

    @on(OverviewLoaded)
    def loaded(self, message: OverviewLoaded) -> None:
        rows, complete = message.value
        if complete:
            self.rows = rows
        else:
            fresh = {row.tenant_id: row for row in rows}
            self.rows = [fresh.get(row.tenant_id, row) for row in self.rows]
        self.mb.tenant_slugs = [row.slug for row in self.rows if not row.is_system]
        self._render_rows()
        if complete and any(row.pending for row in rows):
            # Counted once this frame is drawn: the read would slow the first paint down.
            self.call_after_refresh(self.read, None)

    # -- showing ---------------------------------------------------------------------------

    def shown_rows(self) -> list[OverviewRow]:
        """The system first, then the tenants the filter keeps, in the chosen order."""
        needle = self.filter_text.casefold()
        tenants = [
            r
            for r in self.rows
            if not r.is_system and (needle in r.slug.casefold() or needle in r.name.casefold())
        ]
        tenants.sort(key=lambda r: data.sort_key(self.sort, r))
        system = [r for r in self.rows if r.is_system]
        return system + tenants if not needle else tenants

    def _render_rows(self, *, rebuild: bool = False) -> None:
        table = self.query_one("#overview", HealthTable)
        shown = self.shown_rows()
        keys = [SYSTEM_KEY if r.is_system else r.slug for r in shown]
        current = [row.key.value for row in table.ordered_rows] if table.row_count else []
        self._states = {}
        if not rebuild and keys == current:
            # Only the rows that changed: a tick reads the rows in sight of 1,000.
            for key, row in zip(keys, shown, strict=True):
                if self._painted.get(key) == row:
                    continue
                for column, cell in zip(
                    (k for k, _ in COLUMNS), self._cells(table, row), strict=True
                ):
                    table.update_cell(key, column, cell)
        else:
            selected = self.selected_key()
            scroll = table.scroll_y
            table.clear()
            filled(table)
            for key, row in zip(keys, shown, strict=True):
                table.add_row(*self._cells(table, row), key=key)
            if selected in keys:
                table.move_cursor(row=keys.index(selected), scroll=False)
            table.scroll_to(y=scroll, animate=False, immediate=True)
        self._painted = dict(zip(keys, shown, strict=True))
        self._hint(len(shown))

    def _hint(self, count: int) -> None:
        tenants = sum(1 for r in self.rows if not r.is_system)
        counting = " (counting…)" if any(r.pending for r in self.rows) else ""
        parts = [f"{tenants} tenants{counting}", f"sorted by {data.SORT_WORDS[self.sort]} (s)"]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”: {count} shown (Esc clears)")
        else:
            parts.append("/ filters")
        parts.append("Enter opens")
        self.query_one("#overview-hint", Static).update(" · ".join(parts))

    def _cells(self, table: HealthTable, row: OverviewRow) -> tuple[Any, ...]:
        wide = self.size.width >= WIDE
        name = "System" if row.is_system else row.slug
        if row.pending:  # named only: its facts come with the full read, a moment later
            return (Text(_clip(name, self.widths["tenant"])), *PENDING)
        if row.health and row.health not in self._states:  # the style lookup, once a pass
            self._states[row.health] = table.state(row.health)
        source = row.source if wide or row.source != "not configured" else "none"
        style = {"own": "green", "system": "cyan"}.get(row.source, "bold yellow")
        health = self._states[row.health].copy() if row.health else Text("—", style="dim")
        failed_style = "bold red" if row.failed else ""
        queued_style = "yellow" if row.queued else ""
        return (
            Text(_clip(name, self.widths["tenant"]), style="bold" if row.is_system else ""),
            Text(source, style=style),
            health,
            Text(str(row.sent), justify="right"),
            Text(str(row.failed), style=failed_style, justify="right"),
            Text(str(row.queued), style=queued_style, justify="right"),
            Text(data.sparkline(row.last_hour), style="cyan"),
            Text(data.age_text(row.oldest_queued.total_seconds() if row.oldest_queued else None)),
        )

    # -- actions ---------------------------------------------------------------------------

    def selected_key(self) -> str | None:
        table = self.query_one("#overview", HealthTable)
        if table.row_count == 0:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return value

    def action_sort(self) -> None:
        self.sort = data.SORTS[(data.SORTS.index(self.sort) + 1) % len(data.SORTS)]
        self._render_rows()

    @on(DataTable.HeaderSelected)
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        if column in data.SORTS:
            self.sort = column
            self._render_rows()

    def action_filter(self) -> None:
        field = self.query_one("#overview-filter", Input)
        field.display = True
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#overview-filter", Input)
        field.value = ""
        field.display = False
        self.query_one("#overview", HealthTable).focus()

    @on(Input.Changed, "#overview-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._render_rows()

    @on(Input.Submitted, "#overview-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#overview", HealthTable).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """As the Tenants page: work on the row's tenant (or the system) in Settings."""
        key = self.selected_key()
        if key is None:
            return
        slug = None if key == SYSTEM_KEY else key
        self.mb.set_scope(slug)
        self.notify(f"Working on {'the system' if slug is None else 'tenant ' + slug}")
        self.mb.action_go("settings")


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"
