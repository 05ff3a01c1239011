"""The delivery log: newest first, filters by status and event, live while `serve` delivers.

The first page comes in one small query; older rows load a page at a time (keyset paging: the
rows before the oldest one shown) as the cursor nears the end or on `m`, so tens of thousands of
rows scroll without a pause. Every few seconds the newest page is read again: changed rows are
updated in place, new ones appear at the top.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Label, Select, Static

from core.vocabulary import DeliveryStatus, EventName
from tui import format as fmt
from tui.data import deliveries
from tui.data.deliveries import Page
from tui.jobs import JobFailed, Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import EmptyTable, enter_binding, enter_reaches_table
from tui.widgets.tables import Fit, FitTable, filled, one_line, time_header
from tui.widgets.worker_banner import queued_note

FIRST_PAGE = 100
NEXT_PAGE = 1000
LIVE_EVERY_S = 2.0
# A partial delivery's error names the recipients that refused it.
ERROR_STYLE = {DeliveryStatus.FAILED: "red", DeliveryStatus.PARTIAL: "dark_orange"}
COLUMNS = ("id", "time", "status", "event", "tenant", "attempts", "channel", "target", "error")
# At 80 columns the error gives way first, then tenant and channel, then event and target; the
# id, time, status and attempts stay whole (they are what a row is read by). The floors leave
# room at 80 columns for a 5-digit id and an older row's `05-12 14:03`.
FITS = (
    Fit(shrink=False),
    Fit(shrink=False),
    Fit(shrink=False),
    Fit(min=6, priority=2),
    Fit(min=6),
    Fit(shrink=False),
    Fit(min=5),
    Fit(min=8, priority=2),
    Fit(min=8, priority=0),
)


class PageLoaded(Result[Page]):
    """The newest page, after a (re)load: the table starts over."""


class PageMessage(Message, bubble=False):
    """A page read for the filters of `generation` (a reload since then makes it stale)."""

    def __init__(self, page: Page, generation: int) -> None:
        super().__init__()
        self.page = page
        self.generation = generation


class LivePage(PageMessage):
    """The newest page again: changed rows update, new ones go on top."""


class OlderPage(PageMessage):
    """The next older rows: they go at the end."""


class LiveFailed(JobFailed):
    pass


class MoreFailed(JobFailed):
    def __init__(self, error: BaseException, job: str, generation: int = 0) -> None:
        super().__init__(error, job)
        self.generation = generation


class Retried(Result[int]):
    """The delivery with this id is queued again."""


def cells(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["id"],
        fmt.when(row["created_at"]),
        fmt.status(row["status"]),
        row["event"],
        row["tenant"] or Text("system", style="dim"),
        str(row["attempts"]),
        row["channel"],
        one_line(row["target"]),
        Text(
            one_line(row["last_error"]),
            style=ERROR_STYLE.get(row["status"], "dim"),
        ),
    )


class DeliveriesScreen(MainScreen):
    MODE = "deliveries"
    PAGE_TITLE = "Delivery log"
    QUEUES_MAIL = True
    AUTO_FOCUS = "#deliveries"
    BINDINGS: ClassVar[list[BindingType]] = [
        enter_binding("Details", id="deliveries.open", tooltip="The delivery's details"),
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
        with Horizontal(id="delivery-filters"):
            yield Label("Status", classes="filter-label")
            yield Select(
                [(str(s), str(s)) for s in DeliveryStatus],
                prompt="all",
                id="status-filter",
                compact=True,
            )
            yield Label("Event", classes="filter-label")
            yield Select(
                [(str(e), str(e)) for e in EventName], prompt="all", id="event-filter", compact=True
            )
            yield Static("", id="live", classes="muted")
        yield FitTable(id="deliveries", cursor_type="row", zebra_stripes=True)
        yield EmptyTable(id="deliveries-empty")

    def on_mount(self) -> None:
        table = self.query_one("#deliveries", FitTable)
        for key, label, fit in zip(
            COLUMNS,
            (
                "#",
                time_header("Time"),
                "Status",
                "Event",
                "Tenant",
                "Att",
                "Ch",
                "Target",
                "Last error",
            ),
            FITS,
            strict=True,
        ):
            table.add_fit_column(label, key=key, fit=fit)
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
        self.load_first(self.slug, *self.filters())

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_first(self, slug: str | None, status: str | None, event: str | None) -> None:
        with reporting(self, "load"):
            page = deliveries.load_page(self.ctx, slug, status, event, FIRST_PAGE)
            self.post_message(PageLoaded(page))

    def action_refresh(self) -> None:
        self.reload()

    def live_refresh(self) -> None:
        if self.mb.ctx is None or self.loading_more or not self.is_current:
            return
        self.load_live(self.slug, *self.filters(), self.generation)

    @work(thread=True, exclusive=True, group="live", exit_on_error=False)
    def load_live(
        self, slug: str | None, status: str | None, event: str | None, generation: int
    ) -> None:
        with reporting(self, "live", LiveFailed):
            page = deliveries.load_page(self.ctx, slug, status, event, FIRST_PAGE)
            self.post_message(LivePage(page, generation))

    @on(PageLoaded)
    def show_first(self, message: PageLoaded) -> None:
        page = message.value
        table = self.query_one("#deliveries", DataTable)
        table.clear()
        filled(table)
        self.rows = {row["id"]: row for row in page.rows}
        for row in page.rows:
            table.add_row(*cells(row), key=str(row["id"]))
        self.exhausted = len(page.rows) < page.limit
        self._live_note()
        self._explain_empty()

    def _explain_empty(self) -> None:
        status, event = self.filters()
        chosen = ", ".join(
            f"{name} {value}" for name, value in (("status", status), ("event", event)) if value
        )
        where = "" if self.slug is None else f" for {self.slug}"
        why = (
            f"No deliveries{where} match the filter ({chosen}) — press / to change it"
            if chosen
            else f"No deliveries{where} yet — mail shows here once an event is sent "
            "(x on Templates sends a sample)"
        )
        self.query_one("#deliveries-empty", EmptyTable).explain(
            self.query_one("#deliveries", DataTable), why
        )

    @on(LivePage)
    def show_live(self, message: LivePage) -> None:
        if message.generation != self.generation:
            return  # read with the filters of before a reload
        page = message.page
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
            self._explain_empty()
        self._live_note()

    @on(LiveFailed)
    def live_failed(self, message: LiveFailed) -> None:
        self.query_one("#live", Static).update(Text("○ live refresh failed", style="red"))
        message.prevent_default()  # quiet: the next tick tries again

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
        self.load_older(self.slug, *self.filters(), min(self.rows), self.generation)

    @work(thread=True, exclusive=True, group="more", exit_on_error=False)
    def load_older(
        self,
        slug: str | None,
        status: str | None,
        event: str | None,
        before_id: int,
        generation: int,
    ) -> None:
        try:
            page = deliveries.load_page(
                self.ctx, slug, status, event, NEXT_PAGE, before_id=before_id
            )
        except Exception as exc:
            self.post_message(MoreFailed(exc, "more", generation))
        else:
            self.post_message(OlderPage(page, generation))

    @on(OlderPage)
    def show_older(self, message: OlderPage) -> None:
        if message.generation != self.generation:
            return  # asked for before a reload
        page = message.page
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

    @on(MoreFailed)
    def more_failed(self, message: MoreFailed) -> None:
        if message.generation == self.generation:
            self.loading_more = False

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return enter_reaches_table(self, action)

    def action_open_row(self) -> None:
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
        if row["status"] != DeliveryStatus.FAILED:
            hint = " (open it to resend a copy)" if row["status"] == DeliveryStatus.PARTIAL else ""
            self.notify(
                f"Delivery {row['id']} is {row['status']}: only failed ones can be retried{hint}",
                severity="warning",
            )
            return
        self.retry(self.slug, row["id"])

    @work(thread=True, group="retry", exit_on_error=False)
    def retry(self, slug: str | None, delivery_id: int) -> None:
        with reporting(self, "retry"):
            self.post_message(Retried(deliveries.retry(self.ctx, slug, delivery_id)))

    @on(Retried)
    def retried(self, message: Retried) -> None:
        self.notify(f"Delivery {message.value} queued again" + queued_note(self.app))
        self.live_refresh()

    def action_failed(self) -> None:
        select = self.query_one("#status-filter", Select)
        failed = str(DeliveryStatus.FAILED)
        select.value = Select.NULL if select.value == failed else failed

    def action_filters(self) -> None:
        self.query_one("#status-filter", Select).focus()
