"""The help screen: every key of the page you came from and of the whole app, with what it does."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

INTRO = (
    "mailbell configures the notification mail of the system and of each tenant. Pick the "
    "system or a tenant on Tenants (1); the header shows which one you are working on. "
    "ctrl+p opens the command palette: every page and action, searchable. While something "
    "mailbell watches is critical, a line under the page names says what: H opens Health."
)


def _key(key: str) -> str:
    return key.replace("ctrl+", "^").replace("escape", "esc").replace("asterisk", "*")


def bindings_table(title: str, bindings: list[Binding]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, min_width=8)
    table.add_column()
    table.title = title
    table.title_justify = "left"
    table.title_style = "bold"
    seen: set[str] = set()
    for binding in bindings:
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        keys = ", ".join(_key(key.strip()) for key in binding.key.split(","))
        table.add_row(Text(keys, style="bold"), binding.tooltip or binding.description)
    return table


def _bindings(owner: object) -> list[Binding]:
    found: list[Binding] = []
    for item in getattr(owner, "BINDINGS", []):
        if isinstance(item, Binding):
            found.append(item)
        elif isinstance(item, tuple):
            found.append(Binding(*item))
    return found


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, page: Screen[object] | None) -> None:
        super().__init__(classes="dialog-screen")
        self.page = page

    def compose(self) -> ComposeResult:
        from tui.widgets.nav import PAGES

        # The pages this session has (Captured only in the demo), listed once: the app's own
        # bindings include a key per page too, which "Everywhere" leaves to this list.
        shown_pages = getattr(self.app, "pages", PAGES)
        everywhere = [b for b in _bindings(self.app) if not (b.id or "").startswith("go.")]
        yield Footer()

        with Vertical(id="help", classes="dialog wide"):
            yield Label("Help — keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(INTRO, classes="muted")
                if self.page is not None:
                    page_title = getattr(self.page, "PAGE_TITLE", type(self.page).__name__)
                    yield Static(bindings_table(f"This page: {page_title}", _bindings(self.page)))
                pages = [
                    Binding(p.key, f"go('{p.mode}')", p.label, tooltip=p.help) for p in shown_pages
                ]
                yield Static(bindings_table("Pages", pages))
                yield Static(bindings_table("Everywhere", everywhere))
                yield Static(
                    "Tables: ↑↓ move, Enter opens, mouse wheel scrolls. Forms: Tab / Shift+Tab "
                    "move between fields; the rule a field breaks shows right under it.",
                    classes="muted",
                )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
