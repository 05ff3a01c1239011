"""The one-line navigation bar under the header: every page, the current one highlighted.

The bar never shows part of a name. It uses the widest form that fits the terminal: each name
with its key (`1 Overview`) and a space either side, then one space between them; the names
alone, a space either side, then one space between them; or, when even that is too wide (80
columns), as many whole names as fit around the current page, with an angle quote at either end
standing for the pages out of sight (their names and keys in the tooltip; a click shows them).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Click, Resize
from textual.widgets import Static


@dataclass(frozen=True)
class Page:
    mode: str
    label: str
    key: str
    help: str


# The bar's order is the keys' order: digits 1-9 and 0 left to right, then letters.
PAGES: tuple[Page, ...] = (
    Page("overview", "Overview", "1", "Every tenant live: server, health, deliveries, queue"),
    Page("tenants", "Tenants", "2", "Pick the system or a tenant to configure"),
    Page("servers", "Servers", "3", "Mail servers: add, edit, test, set default, delete"),
    Page("settings", "Settings", "4", "Recipients, event toggles, test email"),
    Page("templates", "Templates", "5", "The email templates: edit, preview, reset"),
    Page("accounts", "Accounts", "6", "Inbound email accounts: sync, messages"),
    Page("deliveries", "Deliveries", "7", "Delivery log: filter, details, retry"),
    Page("audit", "Audit", "8", "Who changed what, from where"),
    Page("slack", "Slack", "9", "Linked channels, routed events, Slack admins"),
    Page("webhooks", "Webhooks", "0", "Webhook targets: add, test, remove"),
    Page("health", "Health", "H", "What mailbell watches: states, history, check now"),
    Page("captured", "Captured", "C", "Mail the demo's capture server received"),
)

# Cells around each name: the padding app.tcss gives `.nav-item` (one on the left) and
# `#nav.-roomy .nav-item` (one on each side); a marker is one cell and its padding.
TIGHT_PAD, ROOMY_PAD, MARKER = 1, 2, 2
MORE = {"left": "\u2039", "right": "\u203a"}  # single angle quotation marks


def window(widths: list[int], anchor: int, room: int) -> tuple[int, int]:
    """The pages [first, end) shown whole in `room` cells, `anchor` among them: from the first
    page when the anchor fits that way, else ending at the anchor, then as many after it as fit.
    Markers take their cells on each side with pages out of sight."""
    count = len(widths)

    def fits(first: int, end: int) -> bool:
        markers = MARKER * ((first > 0) + (end < count))
        return sum(widths[first:end]) + markers <= room

    first = 0
    if not fits(0, anchor + 1):
        first = anchor
        while first > 0 and fits(first - 1, anchor + 1):
            first -= 1
    end = anchor + 1
    while end < count and fits(first, end + 1):
        end += 1
    return first, end


class NavItem(Static):
    def __init__(self, page: Page, *, current: bool) -> None:
        super().__init__(page.label, id=f"nav-{page.mode}", classes="nav-item")
        self.page = page
        self.set_class(current, "-current")
        self.tooltip = f"{page.help} ({page.key})"

    def show_key(self, shown: bool) -> None:
        label = Content(self.page.label)
        self.update(Content.assemble((self.page.key, "$accent"), " ", label) if shown else label)

    async def on_click(self, event: Click) -> None:
        event.stop()
        await self.app.run_action(f"go('{self.page.mode}')")


class NavMore(Static):
    """An angle quote: pages out of sight on that side; a click brings them in."""

    def __init__(self, side: str) -> None:
        super().__init__(MORE[side], id=f"nav-more-{side}")
        self.add_class("nav-item", "nav-more")
        self.side = side
        self.display = False

    def on_click(self, event: Click) -> None:
        event.stop()
        bar = self.parent
        if isinstance(bar, NavBar):
            bar.in_sight = 0 if self.side == "left" else len(bar.pages) - 1
            bar.fit(bar.size.width)


class NavBar(Horizontal):
    """Clickable page names; the page keys and the command palette reach the same pages."""

    def __init__(self, current: str, pages: tuple[Page, ...]) -> None:
        super().__init__(id="nav")
        self.current = current
        self.pages = pages
        self.can_focus = False
        modes = [page.mode for page in pages]
        self.in_sight = modes.index(current) if current in modes else 0
        self.form = ""

    def compose(self) -> ComposeResult:
        yield NavMore("left")
        for page in self.pages:
            yield NavItem(page, current=page.mode == self.current)
        yield NavMore("right")

    def on_mount(self) -> None:
        self.fit(self.app.size.width)

    def on_resize(self, event: Resize) -> None:
        self.fit(event.size.width)

    def fit(self, width: int) -> None:
        """Lay the names out in the widest form that fits `width` cells (see the module doc)."""
        labels = [len(page.label) for page in self.pages]
        keyed = [n + len(page.key) + 1 for n, page in zip(labels, self.pages, strict=True)]
        if sum(n + ROOMY_PAD for n in keyed) <= width:
            form = "keys roomy"
        elif sum(n + TIGHT_PAD for n in keyed) <= width:
            form = "keys"
        elif sum(n + ROOMY_PAD for n in labels) <= width:
            form = "roomy"
        elif sum(n + TIGHT_PAD for n in labels) <= width:
            form = "tight"
        else:
            form = "window"
        self.form = form
        self.set_class(form.endswith("roomy"), "-roomy")
        items = list(self.query(NavItem))
        for item in items:
            item.show_key(form.startswith("keys"))
        first, end = 0, len(items)
        if form == "window":
            first, end = window([n + TIGHT_PAD for n in labels], self.in_sight, width)
        for index, item in enumerate(items):
            item.display = first <= index < end
        self._marker("left", [page for page in self.pages[:first]])
        self._marker("right", [page for page in self.pages[end:]])

    def _marker(self, side: str, hidden: list[Page]) -> None:
        marker = self.query_one(f"#nav-more-{side}", NavMore)
        marker.display = bool(hidden)
        marker.tooltip = "More: " + ", ".join(f"{p.label} ({p.key})" for p in hidden)
