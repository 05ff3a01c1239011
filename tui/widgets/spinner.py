"""A one-line spinner with a message, for work that runs in a worker."""

from __future__ import annotations

import time

from rich.spinner import Spinner as RichSpinner
from rich.text import Text
from textual.widgets import Static


class Spinner(Static):
    """`⠋ Syncing support@acme.org… 40/120`; hidden while idle."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=f"spinner {classes or ''}".strip())
        self._spinner = RichSpinner("dots", style="bold")
        self._message = ""
        self.display = False

    def on_mount(self) -> None:
        self._timer = self.set_interval(1 / 12, self._tick, pause=True)

    def start(self, message: str) -> None:
        self._message = message
        self.display = True
        self._timer.resume()
        self._tick()

    def set_message(self, message: str) -> None:
        self._message = message
        self._tick()

    def stop(self) -> None:
        self._timer.pause()
        self.display = False

    @property
    def running(self) -> bool:
        return bool(self.display)

    def _tick(self) -> None:
        frame = self._spinner.render(time.monotonic())
        text = frame if isinstance(frame, Text) else Text(str(frame))
        self.update(Text.assemble(text, " ", self._message))
