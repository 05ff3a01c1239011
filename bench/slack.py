"""Benchmark: the Slack bot against a local stand-in for the Slack Web API.

In the same run:
- (a) ack latency: signed `/mailbell status` slash commands (HMAC v0, form-encoded, as Slack
  sends them) from 16 concurrent clients to `/slack/events` on `mailbell serve --no-worker`
  (a subprocess), next to a plain aiohttp handler (also a subprocess) that only verifies the
  signature and answers, and a bare slack-bolt AsyncApp whose listener only acknowledges (bolt's
  own floor). p50/p99 per request and requests per second for each.
  Targets: p99 < 25 ms; throughput >= 0.5 x the plain handler.
- (b) mirrored alerts: 2,000 Slack deliveries (100 events routed to 20 channels) sent by the
  outbox worker with pacing disabled, next to bare aiohttp posts of the same JSON bodies
  through one shared session at the same concurrency (64). Target: >= 0.5 x bare.
  Also shown, to split the worker's cost: `SlackChannel.send` alone (no database); the outbox
  alone (claims and outcome records as the worker batches them, no send); and the two one
  after the other, the ceiling of a worker that sends and keeps the outbox in one process.

The Web API stand-in (tests/support/slack_api.py) runs in its own process. (b) is in
bench/slack_alerts.py; what both parts share is in bench/slack_setup.py.

    .venv/bin/python bench/slack.py [--requests 4000] [--clients 16] [--command status]
                                    [--alerts 2000] [--channels 20]

"server CPU ms/req" is the server process's own CPU time per request (from /proc): on a busy
machine the throughput columns move with the load, this one much less.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_seconds, free_port  # noqa: E402
from bench.slack_alerts import bench_alerts  # noqa: E402
from bench.slack_setup import (  # noqa: E402
    ADMIN,
    CHANNEL,
    SECRET,
    TEAM,
    TOKEN,
    setup_tenant,
    start_stand_in,
)

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


# -- (a) ack latency ------------------------------------------------------------------------


async def load(
    url: str, requests: int, clients: int, pid: int = 0, text: str = "status"
) -> dict[str, float]:
    import aiohttp

    from tests.support.slack_api import SlackRequests

    signer = SlackRequests(SECRET, team_id=TEAM)
    body = signer.command_body(text, user=ADMIN, channel=CHANNEL)
    samples: list[float] = []
    # Each request is a new one, as Slack sends them (a trigger id of its own): mailbell
    # refuses a signed request it has seen (a replay).
    triggers = itertools.count(1)

    async def one(session: aiohttp.ClientSession) -> float:
        signed = signer.sign(f"{body}&trigger_id=bench.{next(triggers)}")
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
