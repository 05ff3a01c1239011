"""Deliveries sent from inside the TUI process, for `mailbell demo` (elsewhere `serve` does it)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import MailbellApp

POLL_S = 0.5


async def deliver_forever(app: MailbellApp) -> None:
    """Run the core delivery worker until the app stops (the worker task is cancelled)."""
    from core.pipeline.worker import Worker

    assert app.ctx is not None
    worker = Worker(app.ctx, poll_interval_s=POLL_S, max_in_flight=8, pool_size=1)
    stop = asyncio.Event()
    try:
        await worker.run(stop)
    finally:
        stop.set()
        await worker.close()
