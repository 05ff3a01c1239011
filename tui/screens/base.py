"""The frame of every page: header (app, scope), navigation bar, body, footer with the keys.

A page reloads when it is shown and the scope (system or a tenant) or the data (a change saved
here or elsewhere, tui/change_watch.py) changed since it last loaded, so no page shows another
tenant's data or data as it was before a change. A reload for a change keeps each table's
cursor row and scroll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.jobs import Result, ShowsFailures
from tui.widgets.health_banner import HealthBanner
from tui.widgets.nav import NavBar
from tui.widgets.worker_banner import WorkerBanner

if TYPE_CHECKING:
    from core.context import Context
    from tui.app import MailbellApp


class MainScreen(ShowsFailures, Screen[None]):
    MODE: ClassVar[str] = ""
    PAGE_TITLE: ClassVar[str] = ""
    # A page that queues mail shows the worker banner while no delivery worker runs.
    QUEUES_MAIL: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Any, ...] | None = None
        # Each table's cursor row key and scroll, while a reload for a change is on its way.
        self._place: dict[str, tuple[Any, float, float]] = {}

    @property
    def mb(self) -> MailbellApp:
        return self.app  # type: ignore[return-value]

    @property
    def ctx(self) -> Context:
        ctx = self.mb.ctx
        assert ctx is not None, "the context is not ready yet"
        return ctx

    @property
    def slug(self) -> str | None:
        """The tenant being configured, or None for the system."""
        return self.mb.scope

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield NavBar(self.MODE, self.mb.pages)
        yield HealthBanner()
        if self.QUEUES_MAIL:
            yield WorkerBanner()
        with Vertical(id="body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static("")

    def on_screen_resume(self) -> None:
        self.sync_scope()

    def sync_scope(self, *, force: bool = False, keep_place: bool = False) -> None:
        """Load the page when first shown, and again when the scope or the data changed
        meanwhile. `keep_place`: the reload is for a change, not a new scope, so each table
        keeps its cursor row and scroll."""
        if self.mb.ctx is None:
            return
        key = (self.mb.scope, self.mb.scope_version, self.mb.data_version)
        if force or self._shown != key:
            same_scope = self._shown is not None and self._shown[:2] == key[:2]
            if same_scope and not force and self.unsaved():
                return  # a reload would drop the edits: it comes with the next change or visit
            self._shown = key
            if keep_place or same_scope:
                self._remember_place()
            self.reload()

    def unsaved(self) -> bool:
        """Whether the page holds edits not saved yet (a form page says so)."""
        return False

    def _remember_place(self) -> None:
        self._place = {}
        for table in self.query(DataTable):
            if table.id is None or table.row_count == 0:
                continue
            try:
                row = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            except Exception:  # no cursor row (an empty or cleared table)
                continue
            self._place[table.id] = (row, table.scroll_x, table.scroll_y)

    @on(Result)
    def _restore_place(self, _: Result[Any]) -> None:
        """After the page showed what it loaded (its own handler ran first)."""
        if self._place:
            place, self._place = self._place, {}
            self.call_after_refresh(self._apply_place, place)

    def _apply_place(self, place: dict[str, tuple[Any, float, float]]) -> None:
        for table in self.query(DataTable):
            if table.id not in place:
                continue
            row, x, y = place[table.id]
            try:
                index = table.get_row_index(row)
            except Exception:  # the row is gone: the cursor stays where the page put it
                continue
            table.move_cursor(row=index, scroll=False)
            table.scroll_to(x, y, animate=False, immediate=True)

    def reload(self) -> None:
        """Load (or reload) the page's data; pages run their queries in a thread worker."""
