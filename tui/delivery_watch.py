"""The app's side of "is anything delivering?": whether a delivery worker runs against the
database (read on a thread every WORKERS_REFRESH_S), and the W key that delivers the queued
mail from this session when none does (one `Worker.run_once`, on the event loop).

`MailbellApp` derives from `DeliveryWatch`; the worker banner (tui/widgets/worker_banner.py)
and the "queued" notifications watch `delivery_running`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive

if TYPE_CHECKING:
    from core.context import Context

# One indexed query per tick; a worker that stops is noticed within this plus its staleness.
WORKERS_REFRESH_S = 5.0


# The app's binding (listed in its BINDINGS, so the help screen shows it).
DELIVER_BINDING = Binding(
    "W",
    "deliver_now",
    "Deliver now",
    show=False,
    id="deliver_now",
    tooltip="Deliver the queued mail from this session (when no worker runs)",
)


class DeliveryWatch(App[None]):
    ctx: Context | None
    # None until the first answer, so no banner flashes at start.
    delivery_running: reactive[bool | None] = reactive(None, init=False)

    class WorkersChecked(Message):
        def __init__(self, running: bool) -> None:
            super().__init__()
            self.running = running

    class DeliveredNow(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def watch_deliveries(self, *, in_process: bool = False) -> None:
        """Start the periodic check (once the context is ready). `in_process`: this session
        runs a worker itself (the demo), which is announcing itself right now: no banner
        flashes while its first heartbeat is on its way."""
        if in_process:
            self.delivery_running = True
        else:
            self.refresh_workers()
        self.set_interval(WORKERS_REFRESH_S, self.refresh_workers)

    @work(thread=True, exclusive=True, group="workers", exit_on_error=False)
    def refresh_workers(self) -> None:
        if self.ctx is None:
            return
        from tui.data.workers import delivery_running
        from tui.runtime import log

        try:
            running = delivery_running(self.ctx)
        except Exception as exc:  # the banner stays as it was; the next tick tries again
            log.warning("cannot tell whether a worker runs: %s", exc)
            return
        self.post_message(self.WorkersChecked(running))

    @on(WorkersChecked)
    def workers_checked(self, message: WorkersChecked) -> None:
        self.delivery_running = message.running

    def action_deliver_now(self) -> None:
        if self.ctx is None:
            return
        self.notify("Delivering the queued mail from this session…", timeout=2)
        self.deliver_now()

    @work(exclusive=True, group="deliver-now", exit_on_error=False)
    async def deliver_now(self) -> None:
        """Sends are network work: on the event loop, like every asyncio client; the worker's
        database work runs on its own thread."""
        from tui.data.workers import deliver_now
        from tui.runtime import error_text

        if self.ctx is None:
            return
        try:
            done = await deliver_now(self.ctx)
        except Exception as exc:
            self.notify(error_text(exc), title="delivery failed", severity="error")
            return
        self.post_message(self.DeliveredNow(done.text()))

    @on(DeliveredNow)
    def delivered_now(self, message: DeliveredNow) -> None:
        self.notify(message.text, timeout=6)
        screen = self.screen
        if hasattr(screen, "sync_scope"):  # the page shows the rows as they are now
            screen.sync_scope(force=True)
