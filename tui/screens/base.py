"""The frame of every page: header (app, scope), navigation bar, body, footer with the keys.

A page reloads when it is shown and the scope (system or a tenant) changed since it last
loaded, so switching tenants never leaves a page showing another tenant's data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui.jobs import ShowsFailures
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

    def sync_scope(self, *, force: bool = False) -> None:
        """Load the page when first shown, and again when the scope changed meanwhile."""
        if self.mb.ctx is None:
            return
        key = (self.mb.scope, self.mb.scope_version)
        if force or self._shown != key:
            self._shown = key
            self.reload()

    def reload(self) -> None:
        """Load (or reload) the page's data; pages run their queries in a thread worker."""
