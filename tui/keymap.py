"""Every key of the TUI in one place, and the user's remapping in `MAILBELL_HOME/keys.toml`.

The app's own bindings are defined here; `listed()` adds every binding with an id that a page,
dialog or widget declares, so the ids a keys file may use, their default keys and what they do
are one list (`python -m tui.keymap` prints it). The file maps a binding id to its keys:

    "go.overview" = "f2"          # one key
    help = ["f1", "?"]            # several
    [servers]                     # a table: servers.add, servers.delete
    add = "insert"

A file that does not parse, names an unknown id or a key that does not exist, or gives one key
two meanings on the same page is refused as a whole: one notification names the file, the line
and the rule, and the default keys stay. Textual applies the map to the bindings by id.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.keys import REPLACED_KEYS, Keys, _character_to_key, key_to_character
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, ListView, OptionList

from tui.delivery_watch import DELIVER_BINDING
from tui.theme_memory import data_home
from tui.widgets.nav import PAGES

if TYPE_CHECKING:
    from core.context import Context

KEYS_FILE = "keys.toml"

# j/k/g/G move the cursor of the table or list that has focus (KeyConventions below). They are
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


# -- the keys file ---------------------------------------------------------------------------

MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
NAMED_KEYS = {key.value.rpartition("+")[2] for key in Keys} | {"space", "tab", "enter"}


def key_error(key: str) -> str | None:
    """Why `key` is no key Textual knows (None when it is one)."""
    *modifiers, name = key.split("+")
    if not name:
        return f"{key!r} is not a key"
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown:
        return f"{key!r}: {unknown[0]!r} is not a modifier ({', '.join(sorted(MODIFIERS))})"
    character = key_to_character(REPLACED_KEYS.get(name, name))  # slash: solidus, …
    if len(name) == 1 or name in NAMED_KEYS or character is not None:
        return None
    return f"{key!r} is not a key (a character, or a name such as f2, ctrl+n, home, pagedown)"


@dataclass(frozen=True)
class KeysFile:
    path: Path
    keymap: dict[str, str]
    errors: list[str]

    def message(self) -> str:
        shown = self.errors[:4] + ([f"… and {len(self.errors) - 4} more"] * (len(self.errors) > 4))
        return f"{self.path}:\n" + "\n".join(shown) + "\nThe default keys stay."


def _flatten(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _line(text: str, binding_id: str) -> str:
    """`line N` of the entry for `binding_id` ("" when it cannot be told)."""
    last = re.escape(binding_id.rpartition(".")[2])
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"""\s*(?:[\w"'.-]+\.)?["']?{last}["']?\s*=""", line):
            return f"line {number}: "
    return ""


def parse(text: str, path: Path, known: list[Listed]) -> KeysFile:
    """The keymap a keys file asks for, or the rules it breaks (then the keymap is empty)."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return KeysFile(path, {}, [f"not valid TOML: {exc}"])
    ids = {row.id for row in known}
    keymap: dict[str, str] = {}
    errors: list[str] = []
    for binding_id, value in _flatten(table):
        at = _line(text, binding_id)
        if binding_id not in ids:
            errors.append(f"{at}{binding_id!r} is not a binding id (Help, ?, lists them)")
            continue
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            errors.append(f"{at}{binding_id!r}: give a key or a list of keys, as strings")
            continue
        names = [k.strip() for key in keys for k in key.split(",")]
        problems = [problem for name in names if (problem := key_error(name))]
        if problems:
            errors.append(f"{at}{binding_id!r}: {problems[0]}")
            continue
        keymap[binding_id] = ",".join(names)
    errors.extend(clashes(keymap, text))
    return KeysFile(path, {} if errors else keymap, errors)


def effective(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The keys that run `binding` under `keymap` (Textual's normalized names)."""
    keys = keymap.get(binding.id or "", binding.key)
    return [_character_to_key(k) if len(k) == 1 else k for k in map(str.strip, keys.split(","))]


def clashes(keymap: dict[str, str], text: str = "") -> list[str]:
    """A remapped key that another binding of the same page (or of the app) already has: the
    binding nearest the focus would win and the other would never run there."""
    if not keymap:
        return []
    found: dict[tuple[str, str], tuple[Binding, list[str]]] = {}
    everywhere: list[Binding] = []
    for where, bindings in owners():
        # A page's keys come before the app's: an app key the page has too never runs there.
        everywhere = everywhere or bindings
        taken: dict[str, Binding] = {}
        for binding in bindings + ([] if bindings is everywhere else everywhere):
            for key in effective(binding, keymap):
                other = taken.setdefault(key, binding)
                if other.action == binding.action or (
                    bindings is not everywhere and binding in everywhere and other in everywhere
                ):
                    continue  # the app's own clashes are told once, for the app
                if binding.id in keymap or other.id in keymap:
                    remapped, kept = (binding, other) if binding.id in keymap else (other, binding)
                    if key in effective(remapped, {}):
                        continue  # its default key: shared on purpose (one of them is enabled)
                    _, wheres = found.setdefault((remapped.id or "", key), (kept, []))
                    wheres.append(where)
    problems = []
    for (binding_id, key), (kept, wheres) in found.items():
        more = f" (and {len(wheres) - 1} more)" if len(wheres) > 1 else ""
        problems.append(
            f"{_line(text, binding_id)}{binding_id!r} takes {key!r}, which "
            f"{kept.description or kept.action} has on {wheres[0]}{more}"
        )
    return problems


def read(path: Path) -> KeysFile | None:
    """The keys file at `path`, checked; None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return KeysFile(path, {}, [f"cannot be read: {exc}"])
    return parse(text, path, listed())


class KeyConventions(App[None]):
    """The app's part: j/k/g/G on the table or list that has focus, and the keys file."""

    ctx: Context | None

    class KeysRead(Message):
        def __init__(self, read: KeysFile) -> None:
            super().__init__()
            self.read = read

    def keys_file(self) -> Path:
        return data_home(self.ctx) / KEYS_FILE

    def load_keys(self) -> None:
        """Apply the keys file, if there is one (checking it imports every page: on a thread)."""
        if self.keys_file().exists():
            self._read_keys(self.keys_file())

    @work(thread=True, group="keys", exit_on_error=False)
    def _read_keys(self, path: Path) -> None:
        found = read(path)
        if found is not None:
            self.post_message(self.KeysRead(found))

    @on(KeysRead)
    def _apply_keys(self, message: KeysRead) -> None:
        if message.read.errors:
            self.notify(
                message.read.message(), title="Keys not remapped", severity="error", timeout=30
            )
        else:
            self.set_keymap(message.read.keymap)

    def cursor_target(self) -> Widget | None:
        focused = self.focused
        return focused if isinstance(focused, DataTable | ListView | OptionList) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Off unless a table or list has focus, so the key reaches whatever else may want it.
        if action == "cursor":
            return self.cursor_target() is not None
        return super().check_action(action, parameters)

    def action_cursor(self, where: str) -> None:
        target = self.cursor_target()
        if where in ("down", "up"):  # every table and list has these actions
            getattr(target, f"action_cursor_{where}")()
        elif isinstance(target, OptionList):
            getattr(target, f"action_{where}")()  # action_first, action_last
        elif isinstance(target, DataTable) and target.row_count:
            target.move_cursor(row=0 if where == "first" else target.row_count - 1, scroll=True)
        elif isinstance(target, ListView) and target.children:
            target.index = 0 if where == "first" else len(target.children) - 1


def main() -> None:
    """Print every binding id, its default keys and what it does (for the docs)."""
    print("| id | keys | what | where |\n|---|---|---|---|")
    for row in listed():
        print(f"| `{row.id}` | `{row.keys}` | {row.description} | {row.where} |")


if __name__ == "__main__":
    main()
