"""The one-line banner every page shows while something the user can see is critical:

    ✗ 2 critical: acme relay (mail server), #C0123 (Slack) — press H for health

It follows the app's periodic health read (`MailbellApp.health`), so all pages share one timer
and one query; it is hidden when nothing is critical. Clicking it opens the Health page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.events import Click
from textual.widgets import Static

from core.vocabulary import HEALTH_GLYPHS, HealthState
from tui.data.health import critical, kind_label

if TYPE_CHECKING:
    from core.models.health import HealthRead

HEALTH_KEY = "H"


def banner_text(reads: Sequence[HealthRead], width: int) -> str:
    """The banner for these critical subjects, their names cut to fit `width` cells."""
    head = f"{HEALTH_GLYPHS[HealthState.CRITICAL]} {len(reads)} critical: "
    tail = f" — press {HEALTH_KEY} for health"
    room = max(width - len(head) - len(tail), 12)
    names = [f"{r.subject} ({kind_label(r.kind)})" for r in reads]
    shown = ""
    for index, name in enumerate(names):
        more = index + 1 < len(names)
        candidate = f"{shown}, {name}" if shown else name
        if len(candidate) + (3 if more else 0) > room:
            if not shown:  # not even the first fits whole: cut it
                shown = name[: room - 1] + "…"
            else:
                shown += ", …"
            break
        shown = candidate
    return head + shown + tail


class HealthBanner(Static):
    def __init__(self) -> None:
        super().__init__("", id="health-banner", markup=False)
        self.critical: list[HealthRead] = []
        self.display = False
        self.tooltip = f"Open the Health page ({HEALTH_KEY})"

    def on_mount(self) -> None:
        self.watch(self.app, "health", self.show, init=True)

    def show(self, reads: list[Any]) -> None:
        self.critical = critical(reads)
        self.display = bool(self.critical)
        self.paint()

    def on_resize(self) -> None:
        self.paint()

    def paint(self) -> None:
        if self.critical:
            width = self.size.width or self.app.size.width - 2  # before the first layout
            text = banner_text(self.critical, width)
            self.update(Text(text, no_wrap=True, overflow="ellipsis"))

    async def on_click(self, event: Click) -> None:
        event.stop()
        await self.app.run_action("go('health')")
