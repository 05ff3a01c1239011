"""The TUI's state in the data directory: the theme last chosen, read back at start.

Whatever sets the theme (ctrl+p "Change theme", ctrl+t light/dark) goes through Textual's
`App.theme`; its change signal writes `MAILBELL_HOME/tui-state.json`. The file is written
atomically with mode 0600; a data directory that cannot be written only means the choice is not
remembered, never a failure of the app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.theme import Theme

if TYPE_CHECKING:
    from core.context import Context

STATE_FILE = "tui-state.json"
DARK, LIGHT = "textual-dark", "textual-light"


def data_home(ctx: Context | None = None) -> Path:
    """The data directory (`MAILBELL_HOME`). Before the database is open it is read the way
    core.config reads it (the variable, else the platform's user data directory) without loading
    pydantic, so the first frame already has the user's theme and keys."""
    if ctx is not None:
        return Path(ctx.settings.home)
    configured = os.environ.get("MAILBELL_HOME")
    if configured:
        return Path(configured)
    from platformdirs import user_data_dir

    return Path(user_data_dir("mailbell", appauthor=False))


def read_state(home: Path) -> dict[str, Any]:
    """The saved state, or {} when there is none or it cannot be read (a damaged file is
    replaced at the next save)."""
    try:
        state = json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(home: Path, state: dict[str, Any]) -> bool:
    """Replace the state file in one step (a reader never sees half a file); False when the
    directory cannot be written."""
    from core.private_files import write_private_file

    try:
        write_private_file(home / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")
    except OSError:
        return False
    return True


class RemembersTheme(App[None]):
    """Start in the theme saved last; save every later change of it."""

    ctx: Context | None
    _theme_saved: str | None = None

    def restore_theme(self) -> None:
        """Call once, in on_mount: the saved theme if Textual still has it, else the dark one."""
        home = data_home(self.ctx)
        saved = read_state(home).get("theme")
        self.theme = saved if isinstance(saved, str) and saved in self.available_themes else DARK
        self._theme_saved = self.theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name == self._theme_saved:
            return
        home = data_home(self.ctx)
        state = read_state(home)
        state["theme"] = theme.name
        if write_state(home, state):
            self._theme_saved = theme.name

    def toggle_light_dark(self) -> None:
        """ctrl+t: the light theme from any dark one, the dark theme from any light one."""
        self.theme = LIGHT if self.current_theme.dark else DARK
