"""`service:workers`: is a delivery worker running against this database (a heartbeat row seen
within STALE_AFTER_S, core/models/workers.py)?

A system subject, checked in a pass over everything or over the system. No worker is a
warning only while mail waits (a queued or sending delivery): a database that nothing was ever
queued in (a fresh install, `mailbell health check` before the first `serve`) has nothing
undelivered, and a watch that alerts on that would cry wolf. The first mail queued with no
worker turns it into a warning at the next fast pass.
"""

from __future__ import annotations

import asyncio

from sqlmodel import col, select

from core.context import Context
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models.delivery import Delivery
from core.services.workers import NO_WORKER, NO_WORKER_ACTION, describe, running_workers
from core.vocabulary import DeliveryStatus, HealthKind, HealthState

KEY, SUBJECT = "service:workers", "delivery workers"
WAITING = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)


def _result(state: HealthState, reason: str, **detail: object) -> CheckResult:
    return CheckResult(KEY, HealthKind.SERVICE, None, SUBJECT, state, reason, dict(detail))


def check_workers(ctx: Context) -> CheckResult:
    """Blocking: the heartbeat rows, then (none running) whether any mail waits."""
    with ctx.session() as session:
        workers = running_workers(session=session)
        if workers:
            return _result(HealthState.OK, describe(workers), workers=len(workers))
        waiting = session.exec(
            select(Delivery.id).where(col(Delivery.status).in_(WAITING)).limit(1)
        ).first()
    if waiting is None:
        return _result(HealthState.OK, "no worker is running; nothing is queued", workers=0)
    return _result(
        HealthState.WARNING, f"{NO_WORKER} ({NO_WORKER_ACTION})", workers=0, action=NO_WORKER_ACTION
    )


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    if not (scope.everything or scope.system):
        return []
    return [await asyncio.to_thread(check_workers, ctx)]
