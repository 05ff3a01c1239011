"""bench/slack.py (b): mirrored alerts sent by the outbox worker, next to bare aiohttp posts of
the same bodies, `SlackChannel.send` alone, the outbox alone, and the two one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.slack_setup import TOKEN, settings, setup_tenant


def queue_alerts(home: Path, api_url: str, channels: list[str], events: int) -> list[bytes]:
    """`events` always-on events for a tenant whose `channels` mirror everything; returns the
    stored (encrypted) Slack messages."""
    from sqlmodel import select

    from core.catalog import sample
    from core.context import build_context
    from core.models.delivery import Delivery
    from core.pipeline.contents import read_contents
    from core.pipeline.emit import emit
    from core.services.tenants import get_tenant

    ctx = build_context(settings(home, api_url))
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="bench")
        for _ in range(events):
            data = sample("VOICEMAIL_RECEIVED")
            emit(session=session, box=ctx.box, tenant=tenant, event="VOICEMAIL_RECEIVED", data=data)
        rows = session.exec(select(Delivery).where(Delivery.channel == "slack")).all()
        messages = read_contents(session.connection(), (r.id for r in rows if r.id))
        bodies = [
            json.dumps(
                {"channel": r.target, **json.loads(ctx.box.decrypt_bytes(messages[r.id or 0]))}
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
