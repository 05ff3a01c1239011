"""The one-line banner of the pages that queue mail (Templates' emit, Deliveries' retry and
resend) while no delivery worker runs against the database:

    ! No worker running: mail stays queued. W: deliver now, or `mailbell serve`      (80 columns)

It follows the app's periodic check (`MailbellApp.delivery_running`, None until the first
answer, so nothing flashes at start). Clicking it delivers, as W does.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App
from textual.events import Click
from textual.widgets import Static

from core.vocabulary import HEALTH_GLYPHS, HealthState
from tui.data.workers import DELIVER_KEY, NO_WORKER_MESSAGE

GLYPH = HEALTH_GLYPHS[HealthState.WARNING]
# Longest first: the first that fits the banner's width is shown.
TEXTS = (
    f"{GLYPH} {NO_WORKER_MESSAGE}",
    f"{GLYPH} No worker is running: mail stays queued. Press {DELIVER_KEY} to deliver now, "
    "or run `mailbell serve`",
    f"{GLYPH} No worker running: mail stays queued. {DELIVER_KEY}: deliver now, "
    "or `mailbell serve`",
    f"{GLYPH} No worker: mail stays queued. {DELIVER_KEY} delivers now; `mailbell serve` always",
)


def banner_text(width: int) -> str:
    return next((text for text in TEXTS if len(text) <= width), TEXTS[-1])


def queued_note(app: App[Any]) -> str:
    """Appended to "queued" notifications: the truth when no worker runs, else nothing."""
    if getattr(app, "delivery_running", None) is False:
        return "\n" + NO_WORKER_MESSAGE
    return ""


class WorkerBanner(Static):
    def __init__(self) -> None:
        super().__init__("", id="worker-banner", markup=False)
        self.display = False
        self.tooltip = f"Deliver the queued mail from this session ({DELIVER_KEY})"

    def on_mount(self) -> None:
        self.watch(self.app, "delivery_running", self.show, init=True)

    def show(self, running: bool | None) -> None:
        self.display = running is False
        self.paint()

    def on_resize(self) -> None:
        self.paint()

    def paint(self) -> None:
        if self.display:
            width = self.size.width or self.app.size.width - 2  # before the first layout
            self.update(Text(banner_text(width), no_wrap=True, overflow="ellipsis"))

    async def on_click(self, event: Click) -> None:
        event.stop()
        await self.app.run_action("deliver_now")
