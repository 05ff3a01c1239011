"""`mailbell health check --system --json` has a `service:workers` subject: a warning while no
worker runs and mail waits (with what to run), ok once a worker's heartbeat is there, ok when
nothing waits. A state needs two agreeing results, so each case runs the check twice."""

from __future__ import annotations

import json
from typing import Any

from core.services import workers
from core.vocabulary import WorkerKind
from tests.support.outbox import queue_deliveries

SUBJECT = ("service", None, "delivery workers")


def _checked(cli: Any, ctx: Any, *, worker: bool = False) -> tuple[int, dict[str, Any]]:
    for _ in range(2):
        if worker:  # the worker's beat, just before each run
            workers.beat(ctx.engine, owner="host-a:7:serve", kind=WorkerKind.SERVE)
        ran = cli("health", "check", "--system", "--json")
    rows = {(r["kind"], r["tenant"], r["subject"]): r for r in json.loads(ran.out)}
    return ran.code, rows[SUBJECT]


def test_no_worker_with_mail_waiting_is_a_warning_until_a_worker_runs(
    cli, ctx, session, actor
) -> None:
    queue_deliveries(ctx, session, actor, 1)
    code, row = _checked(cli, ctx)
    assert code == 1
    assert row["state"] == "warning"
    assert row["reason"] == (
        "no worker is running: queued mail is not delivered "
        "(run `mailbell serve` or `mailbell worker`)"
    )

    code, row = _checked(cli, ctx, worker=True)
    assert row["state"] == "ok"
    assert row["reason"].startswith("1 worker running: serve on ")
    assert "(pid " in row["reason"]


def test_no_worker_and_nothing_queued_is_ok(cli, ctx) -> None:
    code, row = _checked(cli, ctx)
    assert row["state"] == "ok"
    assert code == 0, "every system subject of an empty database is ok"
    assert row["reason"] == "no worker is running; nothing is queued"
