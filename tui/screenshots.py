"""The palette's "Screenshot" saves into the data directory (`MAILBELL_HOME/screenshots`).

Textual saves into the user's Downloads directory, which a server (or an SSH session's account)
often lacks: the save failed. The data directory exists wherever mailbell runs, and Textual's own
notification names the file saved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

if TYPE_CHECKING:
    from core.context import Context

SCREENSHOTS = "screenshots"


class SavesScreenshots(App[None]):
    ctx: Context | None

    def screenshot_dir(self) -> Path:
        if self.ctx is not None:
            home = self.ctx.settings.home
        else:  # before the database is open: the same setting, read the same way
            from core.config import load_settings

            home = load_settings().home
        return Path(home) / SCREENSHOTS

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
