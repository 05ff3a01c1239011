"""The help screen: the keys of the focused widget, of the page and of the whole app, as they are
now (the keys file may have remapped them), with the id each has in that file.

`?` opens it (f1 too, and f1 is the one that works while a text field has focus, where `?` is
typed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Input,
    Label,
    ListView,
    OptionList,
    Select,
    Static,
    Switch,
    TextArea,
)

from tui.keymap import CURSOR_BINDINGS, bindings_of, effective, title_of

if TYPE_CHECKING:
    from textual.app import App

# What a user calls the focused widget ("Focused: table").
KINDS: tuple[tuple[type[Widget], str], ...] = (
    (DataTable, "table"),
    (TextArea, "text editor"),
    (Input, "text field"),
    (ListView, "list"),
    (Select, "drop-down"),
    (OptionList, "list"),
    (Switch, "toggle"),
    (Checkbox, "check box"),
    (Button, "button"),
)


def describe(widget: Widget) -> str:
    kind = next((name for cls, name in KINDS if isinstance(widget, cls)), type(widget).__name__)
    label = str(widget.border_title or "") or (widget.id or "").replace("-", " ").replace("_", " ")
    return f"{kind} ({label})" if label else kind


def _keys_text(app: App[object], binding: Binding) -> str:
    shown = [app.get_key_display(Binding(key, "")) for key in effective(binding, app._keymap)]
    return ", ".join(dict.fromkeys(shown))


# The table's or list's own action each of the app's cursor keys matches: one line for both.
SAME_AS = {
    "cursor('down')": ("cursor_down",),
    "cursor('up')": ("cursor_up",),
    "cursor('first')": ("scroll_top", "first"),
    "cursor('last')": ("scroll_bottom", "last"),
}


def bindings_table(
    app: App[object], title: str, bindings: list[Binding], also: Sequence[Binding] = ()
) -> Table:
    """One section: keys, what they do, and the id the keys file knows the binding by. `also`:
    the app's cursor keys, on the line of the widget's binding that does the same."""
    # Fixed widths line the sections' columns up; the id column is what a keys file names.
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, width=10)
    table.add_column(ratio=1)
    table.add_column(no_wrap=True, width=20, style="dim", overflow="fold")
    table.title = title
    table.title_justify = "left"
    table.title_style = "bold"
    actions = {binding.action for binding in bindings}
    merged = {
        action: extra
        for extra in also
        for action in SAME_AS.get(extra.action, ())
        if action in actions
    }
    seen: set[str] = set()
    for binding in [*(b for b in also if b not in merged.values()), *bindings]:
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        keys, ids = _keys_text(app, binding), binding.id or ""
        if (extra := merged.get(binding.action)) is not None:
            keys, ids = f"{keys}, {_keys_text(app, extra)}", extra.id or ""
        table.add_row(Text(keys, style="bold"), binding.tooltip or binding.description, ids)
    return table


def widget_bindings(widget: Widget) -> list[Binding]:
    """The focused widget's keys: its class's and inherited ones."""
    return [b for bs in widget._bindings.key_to_bindings.values() for b in bs]


def cursor_keys(widget: Widget) -> list[Binding]:
    """The app's j/k/g/G, for a table or list."""
    return CURSOR_BINDINGS if isinstance(widget, DataTable | ListView | OptionList) else []


class Section(Static):
    DEFAULT_CLASSES = "help-section"


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, page: Screen[object] | None, focused: Widget | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.page = page
        self.focused_widget = focused

    def intro(self) -> str:
        keys = {page.mode: page.key for page in getattr(self.app, "pages", ())}
        return (
            "mailbell configures the notification mail of the system and of each tenant. Pick "
            f"the system or a tenant on Tenants ({keys.get('tenants', '?')}); the header shows "
            "which one you are working on. ctrl+p opens the command palette: every page and "
            "action, searchable. While something mailbell watches is critical, a line under the "
            f"page names says what: {keys.get('health', 'H')} opens Health."
        )

    def compose(self) -> ComposeResult:
        app = self.app
        # The pages this session has (Captured only in the demo), listed once: the app's own
        # bindings include a key per page and the cursor keys, which have their own sections.
        app_own = bindings_of(type(app))
        everywhere = [b for b in app_own if not (b.id or "").startswith(("go.", "cursor."))]
        pages = {page.mode: page for page in getattr(app, "pages", ())}
        go = [
            Binding(b.key, b.action, page.label, tooltip=page.help, id=b.id)
            for b in app_own
            if (page := pages.get((b.id or "").removeprefix("go."))) is not None
        ]
        yield Footer()

        with Vertical(id="help", classes="dialog wide"):
            yield Label("Help — keys", classes="dialog-title")
            with VerticalScroll():
                focused = self.focused_widget
                if focused is not None and (own := self.reaching(widget_bindings(focused))):
                    title = f"Focused: {describe(focused)}"
                    focused_keys = bindings_table(app, title, own, cursor_keys(focused))
                    yield Section(focused_keys, id="help-focused")
                if self.page is not None:
                    page_title = title_of(type(self.page))
                    page_keys = bindings_table(app, f"This page: {page_title}", _page(self.page))
                    yield Section(page_keys, id="help-page")
                yield Section(bindings_table(app, "Pages", go), id="help-pages")
                yield Section(bindings_table(app, "Everywhere", everywhere), id="help-everywhere")
                yield Static(self.intro(), classes="muted")
                yield Static(
                    "Tables and lists: ↑↓ or j k move, g / G go to the first / last row, Enter "
                    "opens. Forms: Tab / Shift+Tab move between fields; the rule a field breaks "
                    "shows right under it. Theme: ctrl+p → Change theme, or ctrl+t for light / "
                    f"dark; it is remembered. Remap keys in {self.keys_file()} "
                    "(binding id = key, the ids in the right column).",
                    classes="muted",
                )

    def reaching(self, bindings: list[Binding]) -> list[Binding]:
        """The focused widget's keys that reach it: a page's priority binding (Enter opening a
        row) takes its key first."""
        ahead = [*(_page(self.page) if self.page is not None else []), *bindings_of(type(self.app))]
        keymap = self.app._keymap
        taken = {key for b in ahead if b.priority for key in effective(b, keymap)}
        return [b for b in bindings if not set(effective(b, keymap)) <= taken]

    def keys_file(self) -> Path:
        return self.app.keys_file()  # type: ignore[attr-defined]

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


def _page(page: Screen[object]) -> list[Binding]:
    """The page's keys: its class's and those it inherits (a dialog's from its base)."""
    found: list[Binding] = []
    for cls in type(page).__mro__:
        if cls in (Screen, ModalScreen):
            break
        found.extend(bindings_of(cls))
    return found
