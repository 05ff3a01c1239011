"""The mailbell terminal UI. Screens live in tui/screens, one per module; styles in app.tcss."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from tui.screens.tenants import TenantsScreen

if TYPE_CHECKING:
    from core.context import Context


class MailbellApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "mailbell"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+t", "toggle_dark", "Theme", id="toggle-theme"),
    ]

    def __init__(self, ctx: Context, *, tenant_slug: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.tenant_slug = tenant_slug

    def on_mount(self) -> None:
        self.push_screen(TenantsScreen(self.ctx, focus_slug=self.tenant_slug))

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"


def run_tui(ctx: Context, *, tenant_slug: str | None = None) -> None:
    """Open the UI; an unknown `--tenant` is refused before the screen opens."""
    if tenant_slug is not None:
        from core.services.tenants import get_tenant

        with ctx.session() as session:
            get_tenant(session=session, slug=tenant_slug)
    MailbellApp(ctx, tenant_slug=tenant_slug).run()
