"""Digests with real processes: `mailbell worker` subprocesses, an aiosmtpd capture server, the
real email digest. Each test parses every captured message and checks that each event of the
burst is named in exactly one of them.

- SQLite: 50 lost calls in a burst → `digest_after` single emails and one digest of the rest;
  a worker killed (-9) while the window is open loses nothing and sends nothing twice.
- PostgreSQL: three workers, events emitted from four threads at once, one worker killed
  mid-window; the burst goes on into a second window: one digest per window.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from core.config import Settings
from core.context import Context, build_context
from core.models.delivery import Delivery
from core.models.tenancy import Tenant
from tests.support.digests import caller, event_marks, lost_call, set_policy
from tests.support.factories import emit_event, make_configured_tenant
from tests.support.smtp_servers import SmtpTestServer

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, url: str | None) -> dict[str, str]:
    env = {**os.environ, "MAILBELL_HOME": str(home), "MAILBELL_WORKER_LEASE_S": "3"}
    env.pop("MAILBELL_DATABASE_URL", None)
    if url is not None:
        env["MAILBELL_DATABASE_URL"] = url
    return env


def _context(tmp_path: Path, url: str | None = None) -> tuple[Context, dict[str, str]]:
    home = tmp_path / "home"
    ctx = build_context(Settings(home=home, database_url=url))
    return ctx, _env(home, url)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailbell", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=30)


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _count(ctx: Context, *where: object) -> int:
    with ctx.session() as session:
        query = select(func.count()).select_from(Delivery).where(*where)  # type: ignore[arg-type]
        return int(session.exec(query).one())


def _sent_singles(ctx: Context) -> int:
    return _count(ctx, Delivery.status == "sent", Delivery.is_digest == False)  # noqa: E712


def _sent_digests(ctx: Context) -> int:
    return _count(ctx, Delivery.status == "sent", Delivery.is_digest == True)  # noqa: E712


def _burst_tenant(ctx: Context, srv: SmtpTestServer, policy: str) -> Tenant:
    with ctx.session() as session:
        tenant = make_configured_tenant(session, ctx.box, smtp=srv)
        set_policy(session, ctx.box, tenant, policy)
        return tenant


def _ready(ctx: Context, srv: SmtpTestServer) -> None:
    """Wait until a worker sends: another tenant's event (no digests) reaches `srv`."""
    with ctx.session() as session:
        other = make_configured_tenant(session, ctx.box, slug="globex", smtp=srv)
        set_policy(session, ctx.box, other, "off")
        emit_event(session, ctx.box, other, data=lost_call(9_999))
    srv.handler.wait_for(1, timeout=60)


def _emit(ctx: Context, tenant: Tenant, numbers: range) -> None:
    with ctx.session() as session:
        for number in numbers:
            emit_event(session, ctx.box, tenant, data=lost_call(number))


def _marks(srv: SmtpTestServer) -> Counter[str]:
    return Counter(mark for message in srv.messages for mark in event_marks(message.data))


def _subjects(srv: SmtpTestServer) -> list[str]:
    return [str(message_from_bytes(m.data, policy=default_policy)["Subject"]) for m in srv.messages]


@pytest.mark.sqlite_only
def test_fifty_lost_calls_make_three_emails_and_one_digest(tmp_path, smtp_servers):
    ctx, env = _context(tmp_path)
    srv, warm = smtp_servers(), smtp_servers()
    tenant = _burst_tenant(ctx, srv, "3/4s")
    worker = _worker(env)
    try:
        _ready(ctx, warm)
        _emit(ctx, tenant, range(50))
        _wait(lambda: _sent_digests(ctx) == 1)
    finally:
        _stop([worker])
    assert _sent_singles(ctx) == 3 + 1  # with the warm-up's
    assert len(srv.messages) == 4
    assert _marks(srv) == Counter({caller(n): 1 for n in range(50)})
    digest = [
        s for s, m in zip(_subjects(srv), srv.messages, strict=True) if len(event_marks(m.data)) > 1
    ]
    assert len(digest) == 1 and "47" in digest[0]
    ctx.close()


@pytest.mark.sqlite_only
def test_a_worker_killed_while_the_window_is_open_loses_and_repeats_nothing(tmp_path, smtp_servers):
    ctx, env = _context(tmp_path)
    srv, warm = smtp_servers(), smtp_servers()
    tenant = _burst_tenant(ctx, srv, "3/5s")  # room for the kill and restart
    worker = _worker(env)
    try:
        _ready(ctx, warm)
        _emit(ctx, tenant, range(10))
        _wait(lambda: _sent_singles(ctx) == 1 + 3)  # the singles are sent and recorded
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        _emit(ctx, tenant, range(10, 20))  # the window is still open: all held
        assert _count(ctx, Delivery.status == "held") == 17
        worker = _worker(env)
        _wait(lambda: _sent_digests(ctx) == 1)
    finally:
        _stop([worker])
    assert len(srv.messages) == 4
    assert _marks(srv) == Counter({caller(n): 1 for n in range(20)})
    ctx.close()


def test_three_workers_send_one_digest_per_window(postgres_server, tmp_path, smtp_servers):
    ctx, env = _context(tmp_path, postgres_server.create_database())
    srv, warm = smtp_servers(), smtp_servers()
    tenant = _burst_tenant(ctx, srv, "3/4s")
    workers = [_worker(env) for _ in range(3)]
    try:
        _ready(ctx, warm)
        # Four emitters at once: the burst's lock counts the singles across transactions.
        threads = [
            threading.Thread(target=_emit, args=(ctx, tenant, range(k * 10, k * 10 + 10)))
            for k in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _wait(lambda: _sent_singles(ctx) == 1 + 3)
        workers[0].send_signal(signal.SIGKILL)  # mid-window
        workers[0].wait(timeout=10)
        workers[0] = _worker(env)
        _wait(lambda: _sent_digests(ctx) == 1)
        _emit(ctx, tenant, range(40, 50))  # within a window of the first's end: it goes on
        assert _count(ctx, Delivery.status == "held") == 47
        _wait(lambda: _sent_digests(ctx) == 2)
    finally:
        _stop(workers)
    assert len(srv.messages) == 3 + 2
    assert _marks(srv) == Counter({caller(n): 1 for n in range(50)})
    assert _count(ctx, Delivery.is_digest == True) == 2  # noqa: E712
    ctx.close()
