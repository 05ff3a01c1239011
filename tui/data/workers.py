"""Is a delivery worker running against this database (its heartbeat, core/services/workers.py),
and delivering from this session when none is (the W key: one `Worker.run_once`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.context import Context

# What every place that queues mail adds while no worker runs (the wording).
NO_WORKER_MESSAGE = (
    "No worker is running: this mail stays queued. Run `mailbell serve`, or press W to "
    "deliver from this session"
)
DELIVER_KEY = "W"


def delivery_running(ctx: Context) -> bool:
    """One indexed query: was a worker seen within the heartbeat's staleness window?"""
    from core.services.workers import delivery_running as running

    with ctx.session() as session:
        return running(session=session)


@dataclass(frozen=True)
class Delivered:
    """What one pass from this session did, and what it left queued (retries not yet due)."""

    sent: int
    failed: int
    queued: int

    def text(self) -> str:
        return f"Delivered {self.sent}, failed {self.failed}, still queued {self.queued}"


def _still_queued(ctx: Context) -> int:
    from sqlalchemy import func
    from sqlmodel import col, select

    from core.models.delivery import Delivery
    from core.vocabulary import DeliveryStatus

    waiting = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
    with ctx.session() as session:
        count = session.exec(
            select(func.count()).select_from(Delivery).where(col(Delivery.status).in_(waiting))
        ).one()
    return int(count)


async def deliver_now(ctx: Context) -> Delivered:
    """Every delivery due now, sent from this process (network work on the caller's event loop,
    database work on the worker's own thread); it does not announce itself as a worker."""
    import asyncio

    from core.pipeline.worker import Worker
    from tui.runtime import require_system_admin

    require_system_admin("delivering every tenant's queued mail from this session")

    worker = Worker(ctx, max_in_flight=8, pool_size=1)
    try:
        stats = await worker.run_once()
    finally:
        await worker.close()
    queued = await asyncio.to_thread(_still_queued, ctx)
    return Delivered(sent=stats.sent, failed=stats.failed, queued=queued)
