"""The user's remapping in `MAILBELL_HOME/keys.toml`, checked against the binding ids of
tui/keymap.py. The file maps a binding id to its keys:

    "go.overview" = "f2"          # one key
    help = ["f1", "?"]            # several
    [servers]                     # a table: servers.add, servers.delete
    add = "insert"

A file that does not parse, names an unknown id or a key that does not exist, or gives one key
two meanings on the same page is refused as a whole (`KeysFile.errors`, each naming the line
and the rule), and the default keys stay.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.keys import REPLACED_KEYS, Keys, key_to_character

from tui.keymap import Listed, effective, listed, owners

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
