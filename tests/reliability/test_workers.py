"""Several worker processes on one PostgreSQL database, with workers killed and SMTP outages.

Every test ends with each delivery `sent` and each message accepted by the SMTP server (counted
by Message-ID); duplicates are allowed only where a killed worker had sends in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from core.config import Settings
from core.context import Context, build_context
from core.models.delivery import Delivery
from core.models.tenancy import Tenant
from core.services.audit import Actor
from tests.reliability.outbox_fill import fill
from tests.support.factories import make_configured_tenant
from tests.support.smtp_handlers import CaptureHandler
from tests.support.smtp_servers import SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor(name="test", source="cli")
MAX_IN_FLIGHT = 64  # the worker's default: what one killed worker can have sent unrecorded


class TimedHandler(CaptureHandler):
    """Captures messages and when each was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: list[float] = []
        self._times = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        reply = await super().handle_DATA(server, session, envelope)
        with self._times:
            self.accepted_at.append(time.monotonic())
        return reply


def _context(postgres_server, tmp_path: Path) -> tuple[Context, dict[str, str]]:
    url = postgres_server.create_database()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "MAILBELL_HOME": str(home),
        "MAILBELL_DATABASE_URL": url,
        "MAILBELL_WORKER_LEASE_S": "3",
        "MAILBELL_RETRY_BASE_S": "0.2",
    }
    return build_context(Settings(home=home, database_url=url)), env


def _tenant(ctx: Context, slug: str, srv: SmtpTestServer, **server_extra: Any) -> Tenant:
    with ctx.session() as session:
        server = {"name": "s", "mail_from": f"pbx@{slug}.org", **server_extra}
        return make_configured_tenant(
            session, ctx.box, slug=slug, smtp=srv, server=server, actor=ACTOR
        )


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailbell", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _sent(ctx: Context) -> int:
    with ctx.session() as session:
        query = select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        return int(session.exec(query).one())


def _statuses(ctx: Context) -> dict[str, int]:
    with ctx.session() as session:
        rows = session.exec(select(Delivery.status, func.count()).group_by(Delivery.status))
        return dict(rows.all())


def _wait(
    condition: Callable[[], bool], timeout: float, *, tick: Callable[[], None] = lambda: None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        tick()
        time.sleep(0.5)
    raise AssertionError("timed out")


def _stop(workers: list[subprocess.Popen[bytes]]) -> list[int]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    return [worker.wait(timeout=30) for worker in workers]


def _max_in_window(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_three_workers_drain_once_within_the_rate_limit(postgres_server, smtp_servers, tmp_path):
    ctx, env = _context(postgres_server, tmp_path)
    fast = smtp_servers(handler=TimedHandler())
    slow = smtp_servers(handler=TimedHandler())
    count, limited, limit = 4_000, 150, 100
    fill(ctx, _tenant(ctx, "acme", fast), count)
    fill(ctx, _tenant(ctx, "globex", slow, rate_limit_per_minute=limit), limited)
    workers = [_worker(env) for _ in range(3)]
    try:
        _wait(lambda: _sent(ctx) == count + limited, timeout=150)
    finally:
        codes = _stop(workers)
    assert codes == [0, 0, 0]
    ids = [m.message_id for m in fast.messages]
    assert len(ids) == count and len(set(ids)) == count  # each accepted exactly once
    assert len({m.message_id for m in slow.messages}) == limited
    assert _max_in_window(slow.handler.accepted_at) <= limit
    ctx.close()


def test_killing_a_worker_every_second_loses_nothing(postgres_server, smtp_servers, tmp_path):
    ctx, env = _context(postgres_server, tmp_path)
    srv = smtp_servers()
    count = 4_000
    fill(ctx, _tenant(ctx, "acme", srv), count)
    workers = [_worker(env) for _ in range(3)]
    kills = [0]

    def kill_one() -> None:
        victim = workers[kills[0] % len(workers)]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        workers[kills[0] % len(workers)] = _worker(env)
        kills[0] += 1

    try:
        _wait(lambda: _sent(ctx) == count, timeout=150, tick=lambda: kills[0] < 20 and kill_one())
    finally:
        _stop(workers)
    ids = [m.message_id for m in srv.messages]
    assert set(ids) == {f"{m}" for m in ids} and len(set(ids)) == count  # nothing lost
    duplicates = len(ids) - count
    assert kills[0] >= 3
    assert duplicates <= kills[0] * MAX_IN_FLIGHT
    print(f"\n{kills[0]} kills, {duplicates} duplicate sends")
    ctx.close()


def test_smtp_outage_of_twenty_seconds(postgres_server, smtp_servers, tmp_path):
    ctx, env = _context(postgres_server, tmp_path)
    srv = smtp_servers()
    count = 3_000
    fill(ctx, _tenant(ctx, "acme", srv), count)
    workers = [_worker(env) for _ in range(2)]
    try:
        _wait(lambda: len(srv.messages) >= 300, timeout=60)
        srv.stop()
        time.sleep(20)
        assert _statuses(ctx).get("failed", 0) == 0
        srv.start()
        _wait(lambda: _sent(ctx) == count, timeout=120)
    finally:
        codes = _stop(workers)
    assert codes == [0, 0]
    assert _statuses(ctx) == {"sent": count}
    assert len({m.message_id for m in srv.messages}) == count
    ctx.close()
