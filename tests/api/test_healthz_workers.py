"""`/healthz` counts the delivery workers running against the database (heartbeats seen within
the staleness window); none is still a 200."""

from __future__ import annotations

from datetime import timedelta

from core.context import Context
from core.models._common import utcnow
from core.models.workers import STALE_AFTER_S
from core.services import workers
from core.vocabulary import WorkerKind
from tests.api.conftest import ApiClient


async def test_healthz_counts_running_workers_not_killed_ones(ctx: Context, api: ApiClient) -> None:
    killed = utcnow() - timedelta(seconds=STALE_AFTER_S + 5)
    workers.announce(ctx.engine, owner="host-a:1:dead", kind=WorkerKind.WORKER, now=killed)
    workers.announce(ctx.engine, owner="host-b:2:serve", kind=WorkerKind.SERVE)
    workers.announce(ctx.engine, owner="host-c:3:worker", kind=WorkerKind.WORKER)
    answer = await api.get("/healthz", token=None)
    assert answer.status == 200
    assert answer.body == {"status": "ok", "database": "ok", "workers": 2}
