"""The palette's "Screenshot" saves into the data directory (`MAILBELL_HOME/screenshots`).

Textual saves into the user's Downloads directory, which a server (or an SSH session's account)
often lacks: the save failed. The data directory exists wherever mailbell runs, and Textual's own
notification names the file saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from tui.theme_memory import data_home

if TYPE_CHECKING:
    from core.context import Context

SCREENSHOTS = "screenshots"


class SavesScreenshots(App[None]):
    ctx: Context | None

    def screenshot_dir(self) -> Path:
        return data_home(self.ctx) / SCREENSHOTS  # before the database is open too

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        if path is None:
            folder = self.screenshot_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)
