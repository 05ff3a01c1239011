"""Benchmark: the Slack bot against a local stand-in for the Slack Web API.

In the same run:
- (a) ack latency: signed `/mailbell status` slash commands (HMAC v0, form-encoded, as Slack
  sends them) from 16 concurrent clients to `/slack/events` on `mailbell serve --no-worker`
  (a subprocess), next to a plain aiohttp handler (also a subprocess) that only verifies the
  signature and answers, and a bare slack-bolt AsyncApp whose listener only acknowledges (bolt's
  own floor). p50/p99 per request and requests per second for each.
  Targets (issue 7): p99 < 25 ms; throughput >= 0.5 x the plain handler.
- (b) mirrored alerts: 2,000 Slack deliveries (100 events routed to 20 channels) sent by the
  outbox worker with pacing disabled, next to bare aiohttp posts of the same JSON bodies
  through one shared session at the same concurrency (64). Target: >= 0.5 x bare.
  Also shown, to split the worker's cost: `SlackChannel.send` alone (no database); the outbox
  alone (claims and outcome records as the worker batches them, no send); and the two one
  after the other, the ceiling of a worker that sends and keeps the outbox in one process.

The Web API stand-in (tests/support/slack_api.py) runs in its own process.

    .venv/bin/python bench/slack.py [--requests 4000] [--clients 16] [--command status]
                                    [--alerts 2000] [--channels 20]

"server CPU ms/req" is the server process's own CPU time per request (from /proc): on a busy
machine the throughput columns move with the load, this one much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_seconds, free_port  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
ADMIN = "UBENCHADM1"
TEAM = "T0TEAM"
CHANNEL = "CBENCH0000"

STAND_IN = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.slack_api import SlackApiStandIn

async def main():
    api = SlackApiStandIn(token=sys.argv[2])
    await api.start()
    print(api.port, flush=True)
    while True:
        await asyncio.sleep(3600)
        api.calls.clear()

asyncio.run(main())
"""

SERVE = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from core.context import build_context
from mailbell.serve import serve

asyncio.run(serve(build_context(), host="127.0.0.1", port=int(sys.argv[2]), worker=False))
"""

PLAIN = """
import hashlib, hmac, json, sys, time
from urllib.parse import parse_qs
from aiohttp import web

SECRET = sys.argv[2].encode()

async def events(request):
    body = await request.text()
    ts = request.headers.get("X-Slack-Request-Timestamp", "0")
    given = request.headers.get("X-Slack-Signature", "")
    expected = "v0=" + hmac.new(SECRET, f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    if abs(time.time() - int(ts)) > 300 or not hmac.compare_digest(given, expected):
        return web.Response(status=401)
    form = parse_qs(body)
    text = "status of " + form.get("channel_id", [""])[0]
    return web.json_response({"response_type": "ephemeral", "text": text})

app = web.Application()
app.router.add_post("/slack/events", events)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

# slack-bolt's own cost: the same signed command through a bare AsyncApp whose listener only
# acknowledges — the floor for any bolt-based handler, whatever it does.
BOLT = """
import sys
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.adapter.aiohttp import to_bolt_request, to_aiohttp_response
from slack_sdk.web.async_client import AsyncWebClient

bolt = AsyncApp(
    signing_secret=sys.argv[2],
    client=AsyncWebClient(token=sys.argv[3], base_url=sys.argv[4]),
    process_before_response=True,
)

@bolt.command("/mailbell")
async def command(ack, command):
    await ack(text="status of " + command["channel_id"], response_type="ephemeral")

async def events(request):
    return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

app = web.Application()
app.router.add_post("/slack/events", events)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def start_stand_in() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(ROOT), TOKEN], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/api/"


def settings(home: Path, api_url: str) -> Any:
    from core.config import Settings

    return Settings(
        home=home,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        slack_admins=ADMIN,
    )


def setup_tenant(home: Path, api_url: str, channels: list[str]) -> None:
    from core.context import build_context
    from core.services.audit import Actor
    from core.services.slack import add_routes, link_channel
    from core.services.tenants import create_tenant

    ctx = build_context(settings(home, api_url))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        create_tenant(session=session, slug="bench", actor=actor)
        for channel in channels:
            link = link_channel(
                session=session, team_id=TEAM, channel_id=channel, tenant_slug="bench", actor=actor
            )
            add_routes(session=session, link=link, names=["all"], actor=actor)
    ctx.close()


# -- (a) ack latency ------------------------------------------------------------------------


async def load(
    url: str, requests: int, clients: int, pid: int = 0, text: str = "status"
) -> dict[str, float]:
    import aiohttp

    from tests.support.slack_api import SlackRequests

    signer = SlackRequests(SECRET, team_id=TEAM)
    body = signer.command_body(text, user=ADMIN, channel=CHANNEL)
    samples: list[float] = []

    async def one(session: aiohttp.ClientSession) -> float:
        signed = signer.sign(body)
        started = time.perf_counter()
        async with session.post(url, data=signed.body, headers=signed.headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"unexpected {response.status}: {await response.text()}")
        return time.perf_counter() - started

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(200):  # warm-up (auth.test, caches, connections)
            await one(session)
        remaining = requests
        cpu = cpu_seconds(pid)

        async def client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                samples.append(await one(session))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
    samples.sort()
    return {
        "cpu_ms": cpu / requests * 1000,
        "rate": requests / elapsed,
        "p50": statistics.median(samples) * 1000,
        "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
    }


def bench_acks(api_url: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        setup_tenant(home, api_url, [CHANNEL])
        env = {
            **os.environ,
            "MAILBELL_HOME": str(home),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "MAILBELL_SLACK_API_URL": api_url,
            "MAILBELL_SLACK_ADMINS": ADMIN,
        }
        env.pop("SLACK_APP_TOKEN", None)
        env.pop("MAILBELL_DATABASE_URL", None)
        for name, script, extra in (
            ("mailbell serve", SERVE, [str(ROOT)]),
            ("plain aiohttp", PLAIN, [SECRET]),
            ("bare slack-bolt", BOLT, [SECRET, TOKEN, api_url]),
        ):
            port = free_port()
            argv = [sys.executable, "-c", script]
            argv += [str(ROOT), str(port)] if name == "mailbell serve" else [str(port), *extra]
            process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
            try:
                wait_listening(port, process)
                url = f"http://127.0.0.1:{port}/slack/events"
                results[name] = asyncio.run(
                    load(url, args.requests, args.clients, process.pid, args.command)
                )
            finally:
                process.terminate()
                process.wait(10)
    return results


# -- (b) mirrored alerts --------------------------------------------------------------------


def queue_alerts(home: Path, api_url: str, channels: list[str], events: int) -> list[bytes]:
    """`events` always-on events for a tenant whose `channels` mirror everything; returns the
    stored (encrypted) Slack messages."""
    from sqlmodel import select

    from core.catalog import sample
    from core.context import build_context
    from core.models.delivery import Delivery
    from core.pipeline.emit import emit
    from core.services.tenants import get_tenant

    ctx = build_context(settings(home, api_url))
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="bench")
        for _ in range(events):
            data = sample("VOICEMAIL_RECEIVED")
            emit(session=session, box=ctx.box, tenant=tenant, event="VOICEMAIL_RECEIVED", data=data)
        rows = session.exec(select(Delivery).where(Delivery.channel == "slack")).all()
        bodies = [
            json.dumps(
                {"channel": r.target, **json.loads(ctx.box.decrypt_bytes(r.content))}
            ).encode()
            for r in rows
        ]
    ctx.close()
    return bodies


async def bare_posts(api_url: str, bodies: list[bytes], concurrency: int) -> float:
    import aiohttp

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    queue = list(bodies)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def poster() -> None:
            while queue:
                body = queue.pop()
                async with session.post(
                    api_url + "chat.postMessage", data=body, headers=headers
                ) as r:
                    data = await r.json()
                    assert data["ok"], data

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def worker_posts(home: Path, api_url: str) -> tuple[float, int]:
    from core.channels.slack import SlackChannel
    from core.context import build_context
    from core.pipeline.worker import Worker

    ctx = build_context(settings(home, api_url))
    worker = Worker(ctx, channels={"slack": SlackChannel(ctx, pace_interval_s=0)}, max_in_flight=64)
    started = time.perf_counter()
    stats = await worker.run_once()
    elapsed = time.perf_counter() - started
    await worker.close()
    ctx.close()
    return stats.sent / elapsed, stats.sent


async def channel_only(home: Path, api_url: str, concurrency: int) -> float:
    """SlackChannel.send for every queued delivery, without claims or outcome writes."""
    from core.channels.slack import SlackChannel
    from core.context import build_context
    from core.pipeline import outbox

    ctx = build_context(settings(home, api_url))
    claimed = outbox.claim(ctx.engine, owner="bench", limit=100_000, lease_s=600)
    channel = SlackChannel(ctx, pace_interval_s=0)
    queue = list(claimed)

    async def sender() -> None:
        while queue:
            await channel.send(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await channel.close()
    outbox.release(ctx.engine, owner="bench")
    ctx.close()
    return len(claimed) / elapsed


def outbox_only(home: Path, api_url: str) -> float:
    """Claims and outcome records as the worker makes them (claims of up to 64, records of
    100), without sending: the durable bookkeeping's own ceiling."""
    from core.context import build_context
    from core.models._common import utcnow
    from core.pipeline import outbox
    from core.pipeline.outbox import Outcome

    ctx = build_context(settings(home, api_url))
    done, pending = 0, []
    started = time.perf_counter()
    while claimed := outbox.claim(ctx.engine, owner="bench", limit=64, lease_s=600):
        for delivery in claimed:
            result = {delivery.target: {"status": "sent", "reply": "ok ts=1.0"}}
            pending.append(
                Outcome(
                    id=delivery.id,
                    status="sent",
                    pending=[],
                    results=result,
                    reply="ok ts=1.0",
                    sent_at=utcnow(),
                    attempt="sent",
                    detail="ok ts=1.0",
                )
            )
        if len(pending) >= 100:
            outbox.record(ctx.engine, pending, owner="bench")
            done, pending = done + len(pending), []
    outbox.record(ctx.engine, pending, owner="bench")
    done += len(pending)
    elapsed = time.perf_counter() - started
    ctx.close()
    return done / elapsed


def requeue_slack(home: Path) -> None:
    import sqlite3

    with sqlite3.connect(home / "mailbell.db") as connection:
        connection.execute(
            "UPDATE delivery SET status = 'queued', pending = json_array(target), attempts = 0 "
            "WHERE channel = 'slack'"
        )


def bench_alerts(api_url: str, args: argparse.Namespace) -> dict[str, float]:
    channels = [f"CALERT{i:04d}" for i in range(args.channels)]
    events = args.alerts // args.channels
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        setup_tenant(home, api_url, channels)
        bodies = queue_alerts(home, api_url, channels, events)
        bare = asyncio.run(bare_posts(api_url, bodies, 64))
        alone = asyncio.run(channel_only(home, api_url, 64))
        bookkeeping = outbox_only(home, api_url)
        requeue_slack(home)
        rate, sent = asyncio.run(worker_posts(home, api_url))
        if sent != len(bodies):
            raise SystemExit(f"the worker sent {sent} of {len(bodies)}")
    # Sending and bookkeeping share one interpreter (one GIL): their costs add up.
    floor = 1 / (1 / alone + 1 / bookkeeping)
    return {
        "bare": bare,
        "channel": alone,
        "outbox": bookkeeping,
        "floor": floor,
        "worker": rate,
        "count": len(bodies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="slash commands per row")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--command", default="status", help="the /mailbell text for (a)")
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=20)
    args = parser.parse_args()

    stand_in, api_url = start_stand_in()
    try:
        acks = bench_acks(api_url, args)
        alerts = bench_alerts(api_url, args)
    finally:
        stand_in.terminate()
        stand_in.wait(10)

    plain, bot, bolt = acks["plain aiohttp"], acks["mailbell serve"], acks["bare slack-bolt"]
    print(
        f"\n(a) signed /mailbell {args.command}, {args.clients} concurrent clients, "
        f"{args.requests} requests"
    )
    print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/req':>18}")
    for name, row in (
        ("plain aiohttp (signature only)", plain),
        ("bare slack-bolt (ack only)", bolt),
        ("mailbell serve /slack/events", bot),
    ):
        print(
            f"{name:34} {row['rate']:9.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
            f"{row['cpu_ms']:18.3f}"
        )
    ratio = bot["rate"] / plain["rate"]
    print(f"throughput ratio {ratio:.2f} (target >= 0.5); p99 {bot['p99']:.1f} ms (target < 25)")
    print(
        f"bare slack-bolt alone reaches {bolt['rate'] / plain['rate']:.2f} of the plain handler; "
        f"mailbell reaches {bot['rate'] / bolt['rate']:.2f} of bare slack-bolt"
    )

    print(f"\n(b) {alerts['count']:.0f} mirrored alerts to {args.channels} channels, pacing off")
    print(f"{'':34} {'msgs/s':>9} {'x bare':>8}")
    for name, key in (
        ("bare aiohttp, shared session", "bare"),
        ("SlackChannel.send alone", "channel"),
        ("outbox alone (claim+record, no send)", "outbox"),
        ("both, one after the other (ceiling)", "floor"),
        ("outbox worker (claim+send+record)", "worker"),
    ):
        print(f"{name:34} {alerts[key]:9.0f} {alerts[key] / alerts['bare']:8.2f}")
    print(f"worker ratio {alerts['worker'] / alerts['bare']:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
