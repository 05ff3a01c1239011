"""The app's part of the key conventions: j/k/g/G on the table or list that has focus, and the
keys file (tui/keys_file.py) applied through Textual's keymap."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, ListView, OptionList

from tui.keymap import KEYS_FILE
from tui.keys_file import KeysFile, read
from tui.theme_memory import data_home

if TYPE_CHECKING:
    from core.context import Context


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
