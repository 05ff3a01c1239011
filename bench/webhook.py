"""The webhook channel: the outbox worker draining signed POSTs to a local receiver, next to
bare aiohttp posts of the same bodies, signed the same way, from one process.

The receiver (tests/support/webhook_receiver.py, checking every signature) runs in its own
process, so it takes no CPU from the side measured. Both sides post with up to 64 requests in
flight over one client session; the worker also claims, decrypts and records every delivery.

The two run in turns, `--rounds` times (the deliveries are queued again between rounds); the
table gives each one's median and the range of the per-round ratios.

    .venv/bin/python bench/webhook.py [--deliveries 4000] [--targets 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-webhook-secret"
EVENT = "VOICEMAIL_RECEIVED"  # has no toggle: always sent

RECEIVER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.webhook_receiver import WebhookReceiver

async def main():
    async with WebhookReceiver(secret=sys.argv[2]) as receiver:
        print(receiver.port, flush=True)
        while True:
            await asyncio.sleep(1)
            bad = [r for r in receiver.received() if not r.verified]
            if bad:
                print("bad signature", bad[0].path, file=sys.stderr, flush=True)
                raise SystemExit(1)
            receiver.forget()

asyncio.run(main())
"""


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(ROOT), SECRET], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def queue_posts(home: Path, base_url: str, targets: int, events: int) -> list[tuple[str, bytes]]:
    """A tenant with `targets` webhooks taking every event, `events` events emitted; returns
    (URL, body) of every webhook delivery queued."""
    from sqlmodel import select

    from core.catalog import sample
    from core.channels.webhook.render import parse_stored
    from core.config import Settings
    from core.context import build_context
    from core.models.delivery import Delivery
    from core.models.webhooks import WebhookCreate
    from core.pipeline.emit import emit
    from core.pipeline.outbox import read_contents
    from core.services.audit import Actor
    from core.services.tenants import create_tenant
    from core.services.webhooks import add_webhook

    ctx = build_context(Settings(home=home))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        tenant = create_tenant(session=session, slug="bench", actor=actor)
        for i in range(targets):
            data = WebhookCreate(url=f"{base_url}/hook/{i}", secret=SECRET)
            add_webhook(session=session, box=ctx.box, tenant=tenant, data=data, actor=actor)
        for _ in range(events):
            emit(session=session, box=ctx.box, tenant=tenant, event=EVENT, data=sample(EVENT))
        rows = session.exec(select(Delivery).where(Delivery.channel == "webhook")).all()
        messages = read_contents(session.connection(), (r.id for r in rows if r.id))
        posts = [
            (row.target, parse_stored(ctx.box.decrypt_bytes(messages[row.id or 0]))[1])
            for row in rows
        ]
    ctx.close()
    return posts


async def bare_posts(posts: list[tuple[str, bytes]], concurrency: int) -> float:
    import aiohttp

    from core.channels.webhook.http import signed_headers

    queue = list(posts)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def poster() -> None:
            while queue:
                url, body = queue.pop()
                headers = signed_headers(SECRET, body)
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    assert answer.status == 200, answer.status

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(concurrency)))
        return len(posts) / (time.perf_counter() - started)


async def worker_drain(home: Path) -> tuple[float, int]:
    from core.config import Settings
    from core.context import build_context
    from core.pipeline.worker import Worker

    ctx = build_context(Settings(home=home))
    worker = Worker(ctx, max_in_flight=64)
    started = time.perf_counter()
    stats = await worker.run_once()
    elapsed = time.perf_counter() - started
    await worker.close()
    ctx.close()
    return stats.sent / elapsed, stats.sent


def requeue(home: Path) -> None:
    with sqlite3.connect(home / "mailbell.db") as connection:
        connection.execute(
            "UPDATE delivery SET status = 'queued', pending = json_array(target), attempts = 0, "
            "results = '{}' WHERE channel = 'webhook'"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process, base_url = start_receiver()
    bares, rates = [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            posts = queue_posts(home, base_url, args.targets, args.deliveries // args.targets)
            for round_ in range(args.rounds):
                if round_:
                    requeue(home)
                bares.append(asyncio.run(bare_posts(posts, 64)))
                rate, sent = asyncio.run(worker_drain(home))
                if sent != len(posts):
                    raise SystemExit(f"the worker sent {sent} of {len(posts)}")
                rates.append(rate)
    finally:
        process.terminate()
        process.wait()
    bare, rate = statistics.median(bares), statistics.median(rates)
    ratios = [r / b for r, b in zip(rates, bares, strict=True)]
    print(f"{len(posts)} signed webhook POSTs to {args.targets} targets, 64 in flight, ", end="")
    print(f"{args.rounds} rounds (medians)")
    print(f"{'':36} {'posts/s':>9} {'x bare':>8}")
    print(f"{'bare aiohttp posts (baseline)':36} {bare:9.0f} {1.0:8.2f}")
    print(
        f"{'outbox worker (claim, send, record)':36} {rate:9.0f} {rate / bare:8.2f} "
        f"(rounds {min(ratios):.2f} to {max(ratios):.2f})"
    )
    print(f"worker ratio {rate / bare:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
