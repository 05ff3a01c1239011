"""The delivery log: newest first, filters by status and event, live while `serve` delivers.

The first page comes in one small query; older rows load a page at a time (keyset paging: the
rows before the oldest one shown) as the cursor nears the end or on `m`, so tens of thousands of
rows scroll without a pause. Every few seconds the newest page is read again: changed rows are
updated in place, new ones appear at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Select, Static

from tui import format as fmt
from tui.runtime import actor, owner
from tui.screens.base import MainScreen
from tui.widgets.tables import filled

if TYPE_CHECKING:
    from core.context import Context

FIRST_PAGE = 100
NEXT_PAGE = 1000
LIVE_EVERY_S = 2.0
STATUSES = ("queued", "sending", "sent", "failed", "suppressed")
COLUMNS = ("id", "time", "status", "event", "tenant", "attempts", "channel", "target", "error")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    limit: int
    live: bool = False


def load_page(
    ctx: Context,
    slug: str | None,
    status: str | None,
    event: str | None,
    limit: int,
    live: bool = False,
    before_id: int | None = None,
) -> Page:
    """The `limit` newest deliveries, or with `before_id` the `limit` next older ones."""
    from core.services.deliveries import delivery_log

    with ctx.session() as session:
        page = delivery_log(
            session=session,
            tenant=owner(session, slug),
            status=status,
            event=event,
            before_id=before_id,
            limit=limit,
        )
    rows = [row.as_json() for row in page]
    return Page(rows, limit, live)


def retry(ctx: Context, slug: str | None, delivery_id: int) -> int:
    from core.services.deliveries import retry_delivery

    with ctx.session() as session:
        tenant = owner(session, slug)
        retry_delivery(
            session=session, box=ctx.box, delivery_id=delivery_id, actor=actor(), tenant=tenant
        )
    return delivery_id


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["id"],
        fmt.when(row["created_at"]),
        fmt.status(row["status"]),
        row["event"],
        row["tenant"] or Text("system", style="dim"),
        str(row["attempts"]),
        row["channel"],
        fmt.clip(row["target"], 28),
        Text(fmt.clip(row["last_error"], 60), style="red" if row["status"] == "failed" else "dim"),
    )


class DeliveriesScreen(MainScreen):
    MODE = "deliveries"
    PAGE_TITLE = "Delivery log"
    AUTO_FOCUS = "#deliveries"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Details", id="deliveries.open"),
        Binding("r", "retry", "Retry", id="deliveries.retry", tooltip="Queue a failed one again"),
        Binding(
            "f",
            "failed",
            "Failed only",
            id="deliveries.failed",
            tooltip="Show only failed deliveries (again: all)",
        ),
        Binding(
            "slash",
            "filters",
            "Filter",
            id="deliveries.filter",
            tooltip="Move to the status and event filters",
        ),
        Binding(
            "m",
            "more",
            "More",
            id="deliveries.more",
            tooltip="Load the next page of older deliveries",
        ),
        Binding("f5", "refresh", "Refresh", show=False, id="deliveries.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, Any]] = {}
        self.exhausted = False
        self.loading_more = False
        # Bumped by every reload: a page asked for before it (other filters) is dropped.
        self.generation = 0

    def compose_body(self) -> ComposeResult:
        from core.catalog import NAMES as EVENT_NAMES

        with Horizontal(id="delivery-filters"):
            yield Label("Status", classes="filter-label")
            yield Select([(s, s) for s in STATUSES], prompt="all", id="status-filter", compact=True)
            yield Label("Event", classes="filter-label")
            yield Select(
                [(e, e) for e in EVENT_NAMES], prompt="all", id="event-filter", compact=True
            )
            yield Static("", id="live", classes="muted")
        yield DataTable(id="deliveries", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#deliveries", DataTable)
        for key, label in zip(
            COLUMNS,
            ("#", "Time", "Status", "Event", "Tenant", "Att", "Ch", "Target", "Last error"),
            strict=True,
        ):
            table.add_column(label, key=key)
        self._live = self.set_interval(LIVE_EVERY_S, self.live_refresh, pause=True)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self._live.resume()

    def on_screen_suspend(self) -> None:
        self._live.pause()

    # -- loading ---------------------------------------------------------------------------

    def filters(self) -> tuple[str | None, str | None]:
        status = self.query_one("#status-filter", Select).value
        event = self.query_one("#event-filter", Select).value
        return (
            status if isinstance(status, str) else None,
            event if isinstance(event, str) else None,
        )

    def reload(self) -> None:
        self.generation += 1
        self.exhausted = False
        self.loading_more = False
        self.run_job("load", load_page, self.ctx, self.slug, *self.filters(), FIRST_PAGE)

    def action_refresh(self) -> None:
        self.reload()

    def live_refresh(self) -> None:
        if self.mb.ctx is None or self.loading_more or not self.is_current:
            return
        self.run_job(
            "live",
            load_page,
            self.ctx,
            self.slug,
            *self.filters(),
            FIRST_PAGE,
            True,
            key=self.generation,
        )

    def done_load(self, page: Page) -> None:
        table = self.query_one("#deliveries", DataTable)
        table.clear()
        filled(table)
        self.rows = {row["id"]: row for row in page.rows}
        for row in page.rows:
            table.add_row(*cells(row), key=str(row["id"]))
        self.exhausted = len(page.rows) < page.limit
        self._live_note()

    def done_live(self, page: Page, generation: int) -> None:
        if generation != self.generation:
            return  # read with the filters of before a reload
        table = self.query_one("#deliveries", DataTable)
        newest = max(self.rows, default=0)
        added = False
        for row in page.rows:
            known = self.rows.get(row["id"])
            if known is None:
                if row["id"] > newest:
                    self.rows[row["id"]] = row
                    table.add_row(*cells(row), key=str(row["id"]))
                    added = True
                continue
            if known != row:
                self.rows[row["id"]] = row
                for column, value in zip(COLUMNS, cells(row), strict=True):
                    table.update_cell(str(row["id"]), column, value)
        if added:
            filled(table)
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            table.sort("id", reverse=True)
            if key.value is not None:
                table.move_cursor(row=table.get_row_index(key), animate=False)
        self._live_note()

    def failed_live(self, _: BaseException, generation: int) -> bool:
        self.query_one("#live", Static).update(Text("○ live refresh failed", style="red"))
        return True  # quiet: the next tick tries again

    def _live_note(self) -> None:
        count = len(self.rows)
        more = "" if self.exhausted else "+"
        self.query_one("#live", Static).update(
            Text.assemble(("● live", "green"), f"  {count}{more} deliveries")
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.row_count - event.cursor_row <= 50:
            self.load_more()

    def action_more(self) -> None:
        if self.exhausted:
            self.notify("No older deliveries", timeout=3)
            return
        self.load_more()

    def load_more(self) -> None:
        """The next page of older rows: those before the oldest one shown."""
        if self.exhausted or self.loading_more or not self.rows:
            return
        self.loading_more = True
        self.run_job(
            "more",
            load_page,
            self.ctx,
            self.slug,
            *self.filters(),
            NEXT_PAGE,
            before_id=min(self.rows),
            key=self.generation,
        )

    def done_more(self, page: Page, generation: int) -> None:
        if generation != self.generation:
            return  # asked for before a reload
        self.loading_more = False
        table = self.query_one("#deliveries", DataTable)
        oldest = min(self.rows, default=0)
        for row in page.rows:
            if row["id"] < oldest:
                self.rows[row["id"]] = row
                table.add_row(*cells(row), key=str(row["id"]))
        filled(table)
        self.exhausted = len(page.rows) < page.limit
        self._live_note()

    def failed_more(self, _: BaseException, generation: int) -> bool:
        if generation == self.generation:
            self.loading_more = False
        return False

    def on_select_changed(self, _: Select.Changed) -> None:
        if self.mb.ctx is not None:
            self.reload()

    # -- actions ---------------------------------------------------------------------------

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one("#deliveries", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(int(key)) if key and key.isdigit() else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from tui.screens.delivery_detail import DeliveryDetailScreen

        row = self.selected()
        if row is not None:
            self.app.push_screen(
                DeliveryDetailScreen(self.slug, row["id"]), lambda _: self.live_refresh()
            )

    def action_retry(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row["status"] != "failed":
            self.notify(
                f"Delivery {row['id']} is {row['status']}: only failed ones can be retried",
                severity="warning",
            )
            return
        self.run_job("retry", retry, self.ctx, self.slug, row["id"])

    def done_retry(self, delivery_id: int) -> None:
        self.notify(f"Delivery {delivery_id} queued again")
        self.live_refresh()

    def action_failed(self) -> None:
        select = self.query_one("#status-filter", Select)
        select.value = Select.NULL if select.value == "failed" else "failed"

    def action_filters(self) -> None:
        self.query_one("#status-filter", Select).focus()
