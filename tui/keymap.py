"""Every key of the TUI in one place.

The app's own bindings are defined here; `listed()` adds every binding with an id that a page,
dialog or widget declares, so the ids a keys file (`MAILBELL_HOME/keys.toml`,
tui/keys_file.py) may use, their default keys and what they do are one list
(`python -m tui.keymap` prints it). Textual applies the user's map to the bindings by id
(tui/key_conventions.py).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.keys import _character_to_key

from tui.delivery_watch import DELIVER_BINDING
from tui.widgets.nav import PAGES

KEYS_FILE = "keys.toml"

# j/k/g/G move the cursor of the table or list that has focus (tui/key_conventions.py). They are
# the app's, so every table and list has them; priority, so lists in dialogs have them too. They
# are off unless a table or list has focus, and a text field that has focus types them.
CURSOR_BINDINGS: list[Binding] = [
    Binding("j", "cursor('down')", "Down", show=False, id="cursor.down", priority=True),
    Binding("k", "cursor('up')", "Up", show=False, id="cursor.up", priority=True),
    Binding("g", "cursor('first')", "First row", show=False, id="cursor.first", priority=True),
    Binding("G", "cursor('last')", "Last row", show=False, id="cursor.last", priority=True),
]


def app_bindings() -> list[BindingType]:
    """The app's bindings: a key per page, then the keys that work on every page."""
    return [
        *(
            Binding(
                p.key, f"go('{p.mode}')", p.label, show=False, id=f"go.{p.mode}", tooltip=p.help
            )
            for p in PAGES
        ),
        # A priority binding reaches the app from a dialog too; a text field with focus still
        # types `?` (Textual leaves a key a focused field consumes to the field).
        Binding(
            "f1,question_mark", "help", "Help", id="help", tooltip="Show the keys", priority=True
        ),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False, id="toggle-theme"),
        Binding("q", "quit", "Quit", show=False, id="quit"),
        DELIVER_BINDING,
        *CURSOR_BINDINGS,
    ]


@dataclass(frozen=True)
class Listed:
    id: str
    keys: str
    description: str
    where: str


def bindings_of(owner: object) -> list[Binding]:
    """The bindings a class declares itself (tuples made Bindings)."""
    own = vars(owner).get("BINDINGS", []) if isinstance(owner, type) else []
    return [item if isinstance(item, Binding) else Binding(*item) for item in own]


def owners() -> Iterator[tuple[str, list[Binding]]]:
    """The app's bindings, then those of every page, dialog and widget class that has its own."""
    import tui.screens
    import tui.widgets

    yield "everywhere", [b if isinstance(b, Binding) else Binding(*b) for b in app_bindings()]
    for package in (tui.screens, tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and value.__module__ == module.__name__
                    and "BINDINGS" in vars(value)
                ):
                    yield title_of(value), bindings_of(value)


def title_of(owner: type) -> str:
    """A page's title; for a dialog or widget without one, its class name in words
    (`AccountFormScreen` -> "Account form")."""
    title: str = getattr(owner, "PAGE_TITLE", "")
    words = re.findall(r"[A-Z][a-z]*|[a-z]+", owner.__name__.removesuffix("Screen"))
    return title or (" ".join([words[0], *(w.lower() for w in words[1:])]) if words else "")


def listed() -> list[Listed]:
    """Every binding with an id: the ids a keys file may name."""
    return [
        Listed(binding.id, binding.key, binding.description, where)
        for where, bindings in owners()
        for binding in bindings
        if binding.id
    ]


def effective(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys that run `binding` under `keymap` (Textual's normalized names)."""
    keys = keymap.get(binding.id or "", binding.key)
    return [_character_to_key(k) if len(k) == 1 else k for k in map(str.strip, keys.split(","))]


def main() -> None:
    """Print every binding id, its default keys and what it does (for the docs)."""
    print("| id | keys | what | where |\n|---|---|---|---|")
    for row in listed():
        print(f"| `{row.id}` | `{row.keys}` | {row.description} | {row.where} |")


if __name__ == "__main__":
    main()
