"""The mailbell terminal UI: one mode per page, the scope (system or a tenant) shared by all.

Pages live in tui/screens (one per module), reusable widgets in tui/widgets, styles in
app.tcss. Every action calls the same core service as the CLI. Nothing here imports core at
module level: the first frame is painted before SQLAlchemy is loaded when the context is
built lazily (`run_tui(context_factory)`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen

from tui.change_watch import ChangeWatch
from tui.delivery_watch import DeliveryWatch
from tui.key_conventions import KeyConventions
from tui.keymap import app_bindings
from tui.screenshots import SavesScreenshots
from tui.theme_memory import RemembersTheme
from tui.widgets.nav import PAGES, Page

if TYPE_CHECKING:
    from core.context import Context

# How often the banner and the Health page read the states (the checks themselves run in serve).
HEALTH_REFRESH_S = 30.0


@dataclass
class DemoOptions:
    """What `mailbell demo` adds: the capture server's mailbox and an in-process worker."""

    capture_dir: Path
    capture_address: str = ""
    deliver: bool = True
    extra: dict[str, str] = field(default_factory=dict)


PAGE_SCREENS = {
    "tenants": "tui.screens.tenants:TenantsScreen",
    "servers": "tui.screens.servers:ServersScreen",
    "settings": "tui.screens.settings:SettingsScreen",
    "templates": "tui.screens.templates:TemplatesScreen",
    "accounts": "tui.screens.accounts:AccountsScreen",
    "deliveries": "tui.screens.deliveries:DeliveriesScreen",
    "audit": "tui.screens.audit:AuditScreen",
    "slack": "tui.screens.slack:SlackScreen",
    "webhooks": "tui.screens.webhooks:WebhooksScreen",
    "health": "tui.screens.health:HealthScreen",
    "overview": "tui.screens.overview:OverviewScreen",
    "captured": "tui.screens.captured:CapturedScreen",
}


def screen_type(mode: str) -> type[Screen[None]]:
    """A page's screen class, imported when first needed (start-up imports one page only)."""
    module, _, name = PAGE_SCREENS[mode].partition(":")
    screen: type[Screen[None]] = getattr(importlib.import_module(module), name)
    return screen


def _lazy(mode: str) -> Callable[[], Screen[None]]:
    return lambda: screen_type(mode)()


class MailbellApp(KeyConventions, RemembersTheme, SavesScreenshots, DeliveryWatch, ChangeWatch):
    CSS_PATH = "app.tcss"
    TITLE = "mailbell"
    # Listed in tui/keymap.py with every page's keys; MAILBELL_HOME/keys.toml remaps them.
    BINDINGS: ClassVar[list[BindingType]] = app_bindings()

    scope: reactive[str | None] = reactive(None, init=False)
    # Every subject the user may see, as last read (core HealthRead); the banner and the Health
    # page watch it.
    health: reactive[list[Any]] = reactive(list, init=False)

    class ContextReady(Message):
        pass

    class HealthLoaded(Message):
        def __init__(self, reads: list[Any]) -> None:
            super().__init__()
            self.reads = reads

    class TenantSlugs(Message):
        def __init__(self, slugs: list[str]) -> None:
            super().__init__()
            self.slugs = slugs

    def __init__(
        self,
        ctx: Context | None = None,
        *,
        tenant_slug: str | None = None,
        context_factory: Callable[[], Context] | None = None,
        demo: DemoOptions | None = None,
        start: str | None = None,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.context_factory = context_factory
        self.demo = demo
        self.scope_version = 0
        self.tenant_slugs: list[str] = []
        self.set_reactive(MailbellApp.scope, tenant_slug)
        modes = [m for m in PAGE_SCREENS if m != "captured" or demo is not None]
        self.screen_types = modes
        self.pages: tuple[Page, ...] = tuple(p for p in PAGES if p.mode in modes)
        for mode in modes:
            self.add_mode(mode, _lazy(mode))
        self.start_mode = start or ("settings" if tenant_slug else "overview")
        if demo is not None:
            self.title = "mailbell demo"

    # -- start -----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.restore_theme()
        self.load_keys()
        self._update_sub_title()
        self.switch_mode(self.start_mode)
        if self.ctx is None and self.context_factory is not None:
            self._build_context()
        else:
            self.call_after_refresh(self._context_ready)

    @work(thread=True, exit_on_error=False)
    def _build_context(self) -> None:
        """Open the database on a thread: the first frame does not wait for it."""
        assert self.context_factory is not None
        try:
            self.ctx = self.context_factory()
        except Exception as exc:
            from tui.runtime import error_text

            self.call_from_thread(
                self.notify, error_text(exc), title="cannot open the database", severity="error"
            )
            return
        self.post_message(self.ContextReady())

    @on(ContextReady)
    def context_ready(self, _: ContextReady) -> None:
        self._context_ready()

    def _context_ready(self) -> None:
        self.refresh_tenants()
        self.refresh_health()
        self.set_interval(HEALTH_REFRESH_S, self.refresh_health)
        self.watch_deliveries(in_process=self.demo is not None and self.demo.deliver)
        self.watch_changes()
        self._warm_up()
        if self.demo is not None and self.demo.deliver:
            from tui.background import deliver_forever

            self.run_worker(
                deliver_forever(self), name="worker", group="background", exit_on_error=False
            )
        screen = self.screen
        if hasattr(screen, "sync_scope"):
            screen.sync_scope()

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        """Import the other pages and the core services they use while the user reads the
        first one, so opening any page later is quick."""
        for mode in self.screen_types:
            screen_type(mode)
        for module in (
            "core.services.deliveries",
            "core.services.templates",
            "core.rendering",
            "core.template_validation",
            "core.services.mail_tests",
            "core.services.webhooks",
            "core.services.health",
        ):
            importlib.import_module(module)

    def refresh_tenants(self) -> None:
        """Tenant slugs for the command palette (loaded on a thread)."""
        if self.ctx is not None:
            self.load_tenant_slugs(self.ctx)

    @work(thread=True, exclusive=True, group="tenant-slugs", exit_on_error=False)
    def load_tenant_slugs(self, ctx: Context) -> None:
        from tui.data.tenants import slugs

        self.post_message(self.TenantSlugs(slugs(ctx)))

    @on(TenantSlugs)
    def remember_tenant_slugs(self, message: TenantSlugs) -> None:
        self.tenant_slugs = message.slugs

    @work(thread=True, exclusive=True, group="health", exit_on_error=False)
    def refresh_health(self) -> None:
        """Read every visible subject's state: one query, for the banner and the Health page."""
        if self.ctx is None:
            return
        from tui.data.health import load
        from tui.runtime import log

        try:
            reads = load(self.ctx)
        except Exception as exc:  # the banner stays as it was; the next tick tries again
            log.warning("cannot read the health states: %s", exc)
            return
        self.post_message(self.HealthLoaded(reads))

    @on(HealthLoaded)
    def health_loaded(self, message: HealthLoaded) -> None:
        self.health = message.reads

    # -- scope -----------------------------------------------------------------------------

    def set_scope(self, slug: str | None) -> bool:
        """Work on the system (None) or on tenant `slug`; every page reloads when next shown.
        Refused (False, and said) when this session's role may not see that scope."""
        if not self.may_open(slug, "the system's pages" if slug is None else f"tenant {slug}"):
            return False
        self.scope = slug
        return True

    def may_open(self, slug: str | None, what: str) -> bool:
        """Whether this session's role may see `slug` (None: the system); if not, says that
        `what` (of that scope) is not the session's to open."""
        from tui.runtime import grant

        allowed = grant()
        if allowed.may_read(slug):
            return True
        self.notify(
            f"This session is a {allowed.describe()}: {what} are not yours to open.",
            title="not allowed",
            severity="warning",
        )
        return False

    def watch_scope(self, _old: str | None, _new: str | None) -> None:
        self.scope_version += 1
        self._update_sub_title()
        screen = self.screen
        if hasattr(screen, "sync_scope"):
            screen.sync_scope()

    def _update_sub_title(self) -> None:
        from tui.runtime import session_label

        where = "system" if self.scope is None else f"tenant {self.scope}"
        who = session_label()
        self.sub_title = f"{where} · {who}" if who else where

    # -- actions ---------------------------------------------------------------------------

    def action_go(self, mode: str) -> None:
        if mode not in self.screen_types:
            self.notify(f"the {mode} page is not available here", severity="warning")
            return
        if isinstance(self.screen, ModalScreen):
            return  # finish or close the dialog first
        self.switch_mode(mode)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()  # the help key closes it (this binding comes first)
            return
        self.push_screen(HelpScreen(self.screen, self.focused))

    def action_toggle_dark(self) -> None:
        self.toggle_light_dark()

    def go_and_run(self, mode: str, action: str) -> None:
        """Open page `mode` and run one of its actions (command palette entries)."""

        async def run() -> None:
            await self.switch_mode(mode)
            await self.screen.run_action(action)

        self.run_worker(run(), group="palette", exit_on_error=False)

    def open_tokens(self, slug: str | None) -> None:
        """The API tokens of `slug` (None: the system's) on top of the current page."""
        from tui.screens.tokens import TokensScreen

        if self.ctx is None or isinstance(self.screen, ModalScreen | TokensScreen):
            return  # not ready yet; or finish or close the dialog (or the token list) first
        self.push_screen(TokensScreen(slug))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        from tui.runtime import grant

        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Every key of this page and of the app", self.action_help)
        yield SystemCommand(
            "Light/dark theme", "Switch between light and dark", self.action_toggle_dark
        )
        if grant().may_read(None):
            yield SystemCommand(
                "Work on the system",
                "System mail servers, settings, templates",
                lambda: self.set_scope(None),
            )
        scope = self.scope
        yield SystemCommand(
            "API tokens",
            f"The API tokens of the {'system' if scope is None else 'tenant ' + scope}: "
            "scopes, expiry, new, revoke",
            lambda: self.open_tokens(scope),
        )
        for slug in self.tenant_slugs:
            yield SystemCommand(
                f"Work on tenant {slug}",
                f"Configure tenant {slug}",
                lambda slug=slug: self.set_scope(slug),
            )
        for page in self.pages:
            yield SystemCommand(
                f"Go to {page.label}",
                page.help,
                lambda m=page.mode: self.action_go(m),
            )
            for binding in _page_bindings(screen_type(page.mode)):
                yield SystemCommand(
                    f"{page.label}: {binding.description}",
                    binding.tooltip or f"{binding.description} on the {page.label} page",
                    lambda m=page.mode, a=binding.action: self.go_and_run(m, a),
                    discover=False,
                )


def _page_bindings(page: type[Screen[None]]) -> list[Binding]:
    return [
        b
        for b in getattr(page, "BINDINGS", [])
        if isinstance(b, Binding) and b.description and b.action != "app.pop_screen"
    ]


def run_tui(
    ctx: Context | Callable[[], Context],
    *,
    tenant_slug: str | None = None,
    demo: DemoOptions | None = None,
    as_key: str | None = None,
) -> None:
    """Open the UI; an unknown `--tenant` is refused before the screen opens.

    `ctx` may be a Context or a function building one: without `--tenant`, the first frame
    is then painted before the database is opened, and the data follows. `as_key`: act as the
    SSH key of that name (its role and tenants, core/access.py); such a session that may not
    see the system starts on its first tenant.
    """
    if as_key is not None:
        from tui.data.session import enter_as

        tenant_slug = enter_as(ctx, as_key, tenant_slug)
    if callable(ctx):
        if tenant_slug is None:
            MailbellApp(context_factory=ctx, demo=demo).run()
            return
        ctx = ctx()
    if tenant_slug is not None:
        from tui.data.tenants import check_exists

        check_exists(ctx, tenant_slug)
    MailbellApp(ctx, tenant_slug=tenant_slug, demo=demo).run()
