"""The database-backed rate limit holds across processes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from core.models._common import utcnow
from core.pipeline.shared_limit import reserve_slot
from tests.support.factories import make_mail_server

ROOT = Path(__file__).resolve().parents[2]


def _server(ctx, session, actor, limit: int) -> int:
    server = make_mail_server(session, ctx.box, None, actor=actor, rate_limit_per_minute=limit)
    assert server.id is not None
    return server.id


def test_slots_free_up_after_the_window(ctx, session, actor) -> None:
    server_id = _server(ctx, session, actor, 2)
    start = utcnow()
    assert reserve_slot(ctx.engine, server_id, 2, now=start) == 0
    assert reserve_slot(ctx.engine, server_id, 2, now=start + timedelta(seconds=10)) == 0
    wait = reserve_slot(ctx.engine, server_id, 2, now=start + timedelta(seconds=20))
    assert 40 < wait <= 41  # the first slot leaves the (60 s + 1 s margin) window at 61 s
    assert reserve_slot(ctx.engine, server_id, 2, now=start + timedelta(seconds=62)) == 0


def test_processes_never_take_more_than_the_limit(ctx, session, actor, settings) -> None:
    server_id = _server(ctx, session, actor, 25)
    script = (
        "import sys\n"
        "from core.db import make_engine\n"
        "from core.pipeline.shared_limit import reserve_slot\n"
        "engine = make_engine(sys.argv[1])\n"
        "print(sum(reserve_slot(engine, int(sys.argv[2]), 25) == 0 for _ in range(20)))\n"
    )
    url = settings.effective_database_url
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(server_id)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    taken = [int(p.communicate(timeout=120)[0]) for p in processes]
    assert sum(taken) == 25, taken  # 80 tries from 4 processes, 25 slots in the window


def test_no_limit_takes_nothing(ctx) -> None:
    assert reserve_slot(ctx.engine, 12345, 0) == 0
