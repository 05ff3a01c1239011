"""Benchmark of the delivery pipeline: speed and memory.

A local aiosmtpd sink runs in its own process; in the same run this measures
  (a) the ceiling: raw aiosmtplib, 8 reused connections, pre-built messages;
  (b) drain: N notifications (3 recipients each) already emitted, drained by mailbell's worker;
      (a), (c) and (b) run in turns, `--rounds` times; the table gives each one's median and
      the range of the per-round ratios of (b) to (a). Both are measured twice: with the sink
      on a CPU of its own and this process on the others, as with a remote mail server, and
      with both on every CPU, where the worker's database thread competes with the sink;
  (c) emit: events per second through `emit` (validate, render, serialise, encrypt, commit);
  (d) end to end: emit → sink acceptance at a steady rate, median and p99;
  (e) scale: the worker's peak RSS with 100,000 deliveries queued, and its drain rate with
      100,000 queued against 1,000 queued.

    .venv/bin/python bench/pipeline.py [--drain 5000] [--rounds 4] [--rate 200] [--seconds 10]
                                       [--scale 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_layouts  # noqa: E402
from bench.sinks import RECIPIENTS, ceiling, start_sink  # noqa: E402


def make_context(home: Path, port: int, database_url: str | None = None):
    """A context on `home` (or `database_url`) with tenant "bench" sending to the sink."""
    from core.config import Settings
    from core.context import build_context
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.audit import Actor
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant

    ctx = build_context(Settings(home=home, database_url=database_url))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        tenant = create_tenant(session=session, slug="bench", actor=actor)
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(
                {
                    "server": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "auth": "DISABLE",
                    "mail_from": "pbx@example.com",
                    "recipients": RECIPIENTS,
                    "notify_queue_sla_breached": True,
                },
                system=False,
            ),
            actor=actor,
        )
    return ctx, tenant


def emit_many(ctx, tenant, count: int) -> float:
    """Emit `count` QUEUE_SLA events; returns events per second."""
    from core.catalog import sample
    from core.pipeline.emit import emit

    data = sample("QUEUE_SLA")
    started = time.perf_counter()
    with ctx.session() as session:
        for _ in range(count):
            emit(session=session, box=ctx.box, tenant=tenant, event="QUEUE_SLA", data=data)
    return count / (time.perf_counter() - started)


async def drain(ctx) -> tuple[int, float]:
    from core.pipeline.worker import Worker

    worker = Worker(ctx, pool_size=8, max_in_flight=64)
    started = time.perf_counter()
    stats = await worker.run_once()
    elapsed = time.perf_counter() - started
    await worker.close()
    return stats.sent, elapsed


def end_to_end(home: Path, rate: float, seconds: float) -> tuple[float, float, int]:
    record = str(home / "accepted.log")
    sink, port = start_sink(record=record)
    ctx, tenant = make_context(home / "e2e", port)
    from core.catalog import sample
    from core.pipeline.emit import emit
    from core.pipeline.worker import Worker

    emitted: dict[str, float] = {}
    stop = asyncio.Event()

    def producer(loop: asyncio.AbstractEventLoop) -> None:
        data = sample("QUEUE_SLA")
        interval = 1.0 / rate
        next_at = time.perf_counter()
        with ctx.session() as session:
            for _ in range(int(rate * seconds)):
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                at = time.time()
                result = emit(
                    session=session, box=ctx.box, tenant=tenant, event="QUEUE_SLA", data=data
                )
                emitted[result.deliveries[0].message_id or ""] = at
        time.sleep(1.0)
        loop.call_soon_threadsafe(stop.set)

    async def main() -> None:
        worker = Worker(ctx, pool_size=8, poll_interval_s=0.01)
        thread = threading.Thread(target=producer, args=(asyncio.get_running_loop(),))
        thread.start()
        await worker.run(stop)
        await worker.close()
        thread.join()

    asyncio.run(main())
    sink.terminate()
    accepted = {}
    for line in Path(record).read_text().splitlines():
        message_id, at = line.rsplit(" ", 1)
        accepted[message_id] = float(at)
    latencies = sorted(
        (accepted[mid] - at) * 1000 for mid, at in emitted.items() if mid in accepted
    )
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return statistics.median(latencies), p99, len(latencies)


def fresh_end_to_end(home: Path, rate: float, seconds: float) -> tuple[float, float, int]:
    """(d) in a new interpreter, as a `mailbell serve` would run: the heap left by (a)-(c) in
    this process (thousands of rows' objects) would otherwise stretch its garbage collections."""
    home.mkdir(parents=True)
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--e2e-only",
            str(home),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    median, p99, measured = json.loads(output.stdout.strip().splitlines()[-1])
    return median, p99, measured


WORKER_SCRIPT = """
import asyncio, json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from core.config import Settings
from core.context import build_context
from core.pipeline.worker import Worker
ctx = build_context(Settings(home=sys.argv[1]))
target = int(sys.argv[2])
async def main():
    worker = Worker(ctx, pool_size=8, max_in_flight=64)
    stop = asyncio.Event()
    async def watch():
        while worker.stats.sent < target:
            await asyncio.sleep(0.01)
        stop.set()
    started = time.perf_counter()
    watcher = asyncio.create_task(watch())
    await worker.run(stop)
    elapsed = time.perf_counter() - started
    await worker.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": worker.stats.sent / elapsed, "rss_mb": rss}))
asyncio.run(main())
"""


def fill_queue(ctx, tenant, total: int) -> None:
    """Queue `total` deliveries fast: emit one, copy its row and message (the worker cannot
    tell)."""
    from sqlalchemy import insert, literal, select

    from core.models.delivery import Delivery, DeliveryContent

    emit_many(ctx, tenant, 1)
    with ctx.session() as session:
        template = session.get(Delivery, 1)
        message = session.get(DeliveryContent, 1)
        assert template is not None and message is not None
        row = template.model_dump(exclude={"id"})
        batch = 5000
        for start in range(0, total - 1, batch):
            session.execute(insert(Delivery), [row] * min(batch, total - 1 - start))
        copies = select(Delivery.id, literal(message.content)).where(Delivery.id != 1)
        session.execute(insert(DeliveryContent).from_select(["delivery_id", "content"], copies))
        session.commit()


def scale_run(home: Path, port: int, queued: int, measure: int) -> dict[str, float]:
    ctx, tenant = make_context(home, port)
    fill_queue(ctx, tenant, queued)
    ctx.close()
    output = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT, str(home), str(measure), str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


LAYOUT_LABELS = {"apart": "sink on its own CPU", "shared": "sink sharing the CPUs"}


def drain_rounds(
    base: Path, port: int, layouts: dict[str, Any], rounds: int, count: int
) -> dict[str, dict[str, list[float]]]:
    """(a), (c) and (b) in turns, `rounds` times for each CPU layout (bench.processes)."""
    results = {name: {"ceiling": [], "emit": [], "drain": []} for name in layouts}
    for round_number in range(rounds):
        # The baseline and the worker alternate: a slow spell of this shared machine then
        # lowers both, and the medians compare like with like.
        for name, place in layouts.items():
            place()
            measured = results[name]
            measured["ceiling"].append(ceiling(port, count))
            ctx, tenant = make_context(base / f"drain-{name}-{round_number}", port)
            measured["emit"].append(emit_many(ctx, tenant, count))
            sent, elapsed = asyncio.run(drain(ctx))
            measured["drain"].append(sent / elapsed)
            ctx.close()
    return results


def drain_rows(layout: str, measured: dict[str, list[float]]) -> list[tuple[str, str, str]]:
    ceiling_rate = statistics.median(measured["ceiling"])
    drain_rate = statistics.median(measured["drain"])
    ratios = sorted(d / c for d, c in zip(measured["drain"], measured["ceiling"], strict=True))
    spread = f" (rounds {ratios[0]:.2f} to {ratios[-1]:.2f})" if len(ratios) > 1 else ""
    where = LAYOUT_LABELS[layout]
    return [
        (f"(a) raw aiosmtplib, 8 connections, {where}", f"{ceiling_rate:,.0f} msg/s", "1.00"),
        (
            f"(b) worker drain, pool of 8, {where}",
            f"{drain_rate:,.0f} msg/s",
            f"{drain_rate / ceiling_rate:.2f}{spread}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drain", type=int, default=5000)
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of (a), (c) and (b) for each CPU layout"
    )
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--e2e-only", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.e2e_only:
        print(json.dumps(end_to_end(Path(args.e2e_only), args.rate, args.seconds)))
        return
    base = Path(tempfile.mkdtemp(prefix="mailbell-bench-"))
    sink, port = start_sink()

    layouts = cpu_layouts(sink.pid)
    rounds = drain_rounds(base, port, layouts, args.rounds, args.drain)
    layouts[next(iter(layouts))]()  # (d) and (e) with the first layout
    median, p99, measured = fresh_end_to_end(base / "e2e-run", args.rate, args.seconds)
    small = scale_run(base / "q1k", port, 1_000, 1_000)
    large = scale_run(base / "q100k", port, args.scale, 5_000)
    sink.terminate()

    emit_rate = statistics.median(e for r in rounds.values() for e in r["emit"])
    rows = [row for layout, measured in rounds.items() for row in drain_rows(layout, measured)]
    rows += [
        ("(c) emit: validate+render+commit", f"{emit_rate:,.0f} events/s", "target ≥ 500/s"),
        (
            f"(d) end to end at {args.rate:.0f}/s ({measured} msgs) median",
            f"{median:.1f} ms",
            "target < 50 ms",
        ),
        ("(d) end to end p99", f"{p99:.1f} ms", "target < 200 ms"),
        ("(e) drain rate, 1,000 queued", f"{small['rate']:,.0f} msg/s", "1.00"),
        (
            f"(e) drain rate, {args.scale:,} queued",
            f"{large['rate']:,.0f} msg/s",
            f"{large['rate'] / small['rate']:.2f}",
        ),
        (
            f"(e) worker peak RSS, {args.scale:,} queued",
            f"{large['rss_mb']:.0f} MB",
            "target < 200 MB",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'result':>16}  ratio / target")
    for label, value, ratio in rows:
        print(f"{label.ljust(width)}  {value:>16}  {ratio}")


if __name__ == "__main__":
    main()
