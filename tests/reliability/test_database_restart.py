"""PostgreSQL restarted in the middle of a drain: workers reconnect and finish, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import select

from core.config import Settings
from core.context import build_context
from core.models.delivery import Delivery
from core.services.audit import Actor
from tests.support.factories import emit_events, make_configured_tenant
from tests.support.smtp_handlers import FaultHandler

ROOT = Path(__file__).resolve().parents[2]


def test_workers_survive_a_database_restart(postgres_server, smtp_servers, tmp_path) -> None:
    url = postgres_server.create_database()
    ctx = build_context(Settings(home=tmp_path / "home", database_url=url))
    actor = Actor(name="test", source="cli")
    srv = smtp_servers(handler=FaultHandler(stall=0.03, stall_at="data"))
    count = 400
    with ctx.session() as session:
        server = {"name": "s", "mail_from": "pbx@acme.org"}
        tenant = make_configured_tenant(session, ctx.box, smtp=srv, server=server, actor=actor)
        emit_events(session, ctx.box, tenant, count)
    ctx.engine.dispose()
    env = {
        **os.environ,
        "MAILBELL_HOME": str(tmp_path / "home"),
        "MAILBELL_DATABASE_URL": url,
        "MAILBELL_WORKER_LEASE_S": "5",
        "MAILBELL_RETRY_BASE_S": "0.2",
    }
    workers = [
        subprocess.Popen([sys.executable, "-m", "mailbell", "worker"], cwd=ROOT, env=env)
        for _ in range(2)
    ]
    try:
        # Both workers past their start (its schema check needs the database): each has leased
        # deliveries. On a loaded machine one may start seconds after the other.
        started: set[int] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(started) == 2 and len(srv.messages) >= 50:
                break
            with ctx.session() as session:
                owners = session.exec(select(Delivery.lease_owner).distinct()).all()
            started |= {w.pid for w in workers for o in owners if o and f":{w.pid}:" in o}
            time.sleep(0.02)
        assert len(started) == 2, "a worker never leased a delivery"
        assert 0 < len(srv.messages) < count  # restarted mid-drain
        postgres_server.restart()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with ctx.session() as session:
                statuses = session.exec(select(Delivery.status)).all()
            if statuses.count("sent") == count:
                break
            time.sleep(0.5)
        assert [w.poll() for w in workers] == [None, None]  # both still running
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=30) for worker in workers]
    assert codes == [0, 0]
    assert statuses.count("sent") == count
    assert len({m.message_id for m in srv.messages}) == count
    ctx.close()
