"""The one-line navigation bar under the header: every page, the current one highlighted."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import HorizontalScroll
from textual.events import Click
from textual.widgets import Static


@dataclass(frozen=True)
class Page:
    mode: str
    label: str
    key: str
    help: str


PAGES: tuple[Page, ...] = (
    Page("tenants", "Tenants", "1", "Pick the system or a tenant to configure"),
    Page("servers", "Servers", "2", "Mail servers: add, edit, test, set default, delete"),
    Page("settings", "Settings", "3", "Recipients, event toggles, test email"),
    Page("templates", "Templates", "4", "The email templates: edit, preview, reset"),
    Page("accounts", "Accounts", "5", "Inbound email accounts: sync, messages"),
    Page("deliveries", "Deliveries", "6", "Delivery log: filter, details, retry"),
    Page("audit", "Audit", "7", "Who changed what, from where"),
    Page("slack", "Slack", "8", "Linked channels, routed events, Slack admins"),
    Page("webhooks", "Webhooks", "0", "Webhook targets: add, test, remove"),
    Page("health", "Health", "H", "What mailbell watches: states, history, check now"),
    Page("overview", "Overview", "O", "Every tenant live: server, health, deliveries, queue"),
    Page("captured", "Captured", "9", "Mail the demo's capture server received"),
)


class NavItem(Static):
    def __init__(self, page: Page, *, current: bool) -> None:
        super().__init__(page.label, id=f"nav-{page.mode}", classes="nav-item")
        self.page = page
        self.set_class(current, "-current")
        self.tooltip = f"{page.help} ({page.key})"

    async def on_click(self, event: Click) -> None:
        event.stop()
        await self.app.run_action(f"go('{self.page.mode}')")


class NavBar(HorizontalScroll):
    """Clickable page names; digits 0-9, H, O and the command palette reach the same pages."""

    def __init__(self, current: str, pages: tuple[Page, ...]) -> None:
        super().__init__(id="nav")
        self.current = current
        self.pages = pages
        self.can_focus = False

    def on_mount(self) -> None:
        # Room for a space on both sides of each name when the names fit the line that way.
        width = sum(len(page.label) + 2 for page in self.pages)
        self.set_class(width <= self.app.size.width, "-roomy")
        self.call_after_refresh(self._show_current)

    def _show_current(self) -> None:
        """A narrow terminal cuts the last names off: keep the current page's name in sight."""
        for item in self.query(".-current"):
            self.scroll_to_widget(item, animate=False)

    def compose(self) -> ComposeResult:
        for page in self.pages:
            yield NavItem(page, current=page.mode == self.current)
