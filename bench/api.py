"""Benchmark: `POST /api/events` on `mailbell serve` (SQLite) next to a plain aiohttp handler.

In the same run:
- emit: events per second through `core.pipeline.emit` in-process (validate, render, commit),
  one session per event, on its own SQLite database — the ceiling the API is compared with;
- (a) throughput: 32 concurrent clients POST 20,000 events (QUEUE_CALL_LOST, rendered for 3
  recipients) — every 202 is committed before it is sent (counted in the database afterwards);
- (b) latency: a steady 200 events/s for 10 s (open loop), p50 and p99; and the same at half
  that rate, which shows the latency below saturation when 200/s is beyond the machine;
- the plain handler: an aiohttp app in its own process that parses the same JSON and answers
  202, measured with the same (a) and (b).

`mailbell serve --no-worker` runs as a subprocess (default JSON request logging to /dev/null),
the load generator in this process (aiohttp client). Targets: (a) ≥ 400/s and
≥ 0.8 x the in-process emit rate; (b) p99 < 50 ms.

    .venv/bin/python bench/api.py [--events 20000] [--clients 32] [--rate 200] [--seconds 10]

`--pages`: the `/api/v1` log reads instead (bench/api_pages.py): a delivery-list page with
1 M deliveries in the table (p99 of the first, the 100th and the last page by cursor) and the
audit export (rows per second); target: any page p99 < 50 ms.

    .venv/bin/python bench/api.py --pages [--deliveries 1000000] [--audit 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_seconds, free_port  # noqa: E402

PAYLOAD = {
    "queue_name": "Sales",
    "queue_number": "8000",
    "caller": "+49 30 901820",
    "caller_name": "Max Mustermann",
    "waiting_seconds": 184,
    "reason": "caller hung up",
    "occurred_at": "2026-11-03T11:47:10+00:00",
}
SETTINGS = {
    "server": "127.0.0.1",
    "port": 2525,  # nothing listens: --no-worker never sends
    "auth": "DISABLE",
    "enable_tls_ssl": False,
    "mail_from": "pbx@bench.example",
    "recipients": "ops@bench.example,noc@bench.example,cto@bench.example",
    "notify_queue_call_lost": True,
}

PLAIN_APP = """
import sys
from aiohttp import web

async def events(request):
    body = await request.json()
    return web.json_response({"event_id": 1, "deliveries": [], "echo": len(body)}, status=202)

app = web.Application(client_max_size=1024 * 1024 + 1)
app.router.add_post("/api/events", events)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not become healthy")


@contextmanager
def serving(home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mailbell serve --no-worker` on the SQLite database of `home`, healthy: its URL and
    process; terminated on leaving."""
    port = free_port()
    env = {**os.environ, "MAILBELL_HOME": str(home)}
    env.pop("MAILBELL_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "mailbell", "serve", "--no-worker", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        yield url, process
    finally:
        process.terminate()
        process.wait(15)


def setup_home(home: Path) -> str:
    """A tenant with a configured server, recipients and the toggle on; its API token."""
    from core.config import Settings
    from core.context import build_context
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.audit import Actor
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant
    from core.services.tokens import create_token

    ctx = build_context(Settings(home=home))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        tenant = create_tenant(session=session, slug="bench", actor=actor)
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(SETTINGS, system=False),
            actor=actor,
        )
        token = create_token(session=session, tenant=tenant, name="bench", actor=actor).plaintext
    ctx.close()
    return token


def emit_rate(events: int) -> tuple[float, float]:
    """In-process `emit` per second on a fresh SQLite database (one session per event), and the
    CPU milliseconds each costs."""
    from core.config import Settings
    from core.context import build_context
    from core.pipeline.emit import emit
    from core.services.tenants import get_tenant

    with tempfile.TemporaryDirectory() as tmp:
        setup_home(Path(tmp))
        ctx = build_context(Settings(home=Path(tmp)))
        with ctx.session() as session:
            tenant = get_tenant(session=session, slug="bench")
        for _ in range(200):  # warm-up: template cache, connection pool
            with ctx.session() as session:
                emit(session=session, box=ctx.box, tenant=tenant, event="QUEUE_CALL_LOST",
                     data=PAYLOAD)  # fmt: skip
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(events):
            with ctx.session() as session:
                emit(session=session, box=ctx.box, tenant=tenant, event="QUEUE_CALL_LOST",
                     data=PAYLOAD)  # fmt: skip
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        ctx.close()
    return events / elapsed, cpu * 1000 / events


async def _post(session: Any, url: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    async with session.post(
        f"{url}/api/events", json={"event": "QUEUE_CALL_LOST", "data": PAYLOAD}, headers=headers
    ) as response:
        await response.read()
        if response.status != 202:
            raise SystemExit(f"unexpected {response.status}: {await response.text()}")
    return time.perf_counter() - started


async def throughput(url: str, token: str, events: int, clients: int) -> float:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    remaining = events
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(100):  # warm-up
            await _post(session, url, headers)

        async def client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await _post(session, url, headers)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return events / (time.perf_counter() - started)


async def latency(url: str, token: str, rate: float, seconds: float) -> tuple[float, float]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for _ in range(50):
            await _post(session, url, headers)
        total = int(rate * seconds)
        tasks = []
        start = time.perf_counter()
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(session, url, headers)))
        samples = sorted(await asyncio.gather(*tasks))
    p50 = statistics.median(samples) * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    return p50, p99


def count_events(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "mailbell.db") as connection:
        return int(connection.execute("SELECT count(*) FROM event").fetchone()[0])


def measure(url: str, token: str, args: argparse.Namespace, pid: int) -> dict[str, float]:
    cpu = cpu_seconds(pid)
    rate = asyncio.run(throughput(url, token, args.events, args.clients))
    cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / (args.events + 100)
    p50, p99 = asyncio.run(latency(url, token, args.rate, args.seconds))
    half50, half99 = asyncio.run(latency(url, token, args.rate / 2, args.seconds))
    return {
        "rate": rate,
        "cpu_ms": cpu_ms,
        "p50": p50,
        "p99": p99,
        "half_p50": half50,
        "half_p99": half99,
    }


def run_mailbell(args: argparse.Namespace) -> tuple[dict[str, float], int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        token = setup_home(home)
        with serving(home) as (url, process):
            before = count_events(home)
            result = measure(url, token, args, process.pid)
            stored = count_events(home) - before
    expected = args.events + 100 + int(args.rate * args.seconds) + int(args.rate / 2 * args.seconds)
    expected += 100
    return result, stored, expected


def run_plain(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", PLAIN_APP, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        return measure(url, "unused", args, process.pid)
    finally:
        process.terminate()
        process.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--emit-events", type=int, default=3000)
    parser.add_argument(
        "--pages", action="store_true", help="the /api/v1 log reads instead (bench/api_pages.py)"
    )
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200, help="per page measured (--pages)")
    args = parser.parse_args()
    if args.pages:
        from bench.api_pages import report, run

        report(run(args.deliveries, args.audit, args.requests))
        return

    emit, emit_cpu_ms = emit_rate(args.emit_events)
    mailbell, stored, expected = run_mailbell(args)
    plain = run_plain(args)

    print(
        f"\nPOST /api/events, {args.events} events at {args.clients} concurrent clients; "
        f"latency at a steady {args.rate:g}/s for {args.seconds:g} s; {os.cpu_count()} CPUs"
    )
    print(
        f"in-process emit (validate, render, commit): {emit:,.0f} events/s, "
        f"{emit_cpu_ms:.3f} CPU ms each\n"
    )
    half = f"{args.rate / 2:g}/s"
    rows = [
        ("(a) accepted events/s", "rate", "{:,.0f}", ">= 400 and >= 0.8 x emit"),
        ("(a) server CPU ms/event", "cpu_ms", "{:.3f}", ""),
        (f"(b) p50 ms at {args.rate:g}/s", "p50", "{:.2f}", ""),
        (f"(b) p99 ms at {args.rate:g}/s", "p99", "{:.2f}", "< 50"),
        (f"    p50 ms at {half}", "half_p50", "{:.2f}", "(below saturation)"),
        (f"    p99 ms at {half}", "half_p99", "{:.2f}", ""),
    ]
    header = f"| {'measure':<24} | {'mailbell':>9} | {'plain':>9} | {'vs plain':>8} | target"
    print(header)
    print("|" + "-" * 26 + "|" + "-" * 11 + "|" + "-" * 11 + "|" + "-" * 10 + "|" + "-" * 28)
    for label, key, fmt, target in rows:
        ratio = mailbell[key] / plain[key] if plain[key] else float("nan")
        print(f"| {label:<24} | {fmt.format(mailbell[key]):>9} | {fmt.format(plain[key]):>9} "
              f"| {ratio:>7.2f}x | {target}")  # fmt: skip
    print(
        f"\n(a) vs in-process emit: {mailbell['rate'] / emit:.2f}x (target >= 0.8); by CPU per "
        f"event (load generator's share of the machine left out): "
        f"{emit_cpu_ms / mailbell['cpu_ms']:.2f}x"
    )
    print(f"durable: {stored:,} of {expected:,} accepted events found committed in the database")
    ok = (
        mailbell["rate"] >= 400
        and mailbell["rate"] >= 0.8 * emit
        and mailbell["p99"] < 50
        and stored == expected
    )
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
