"""Benchmark of the recipient modes: the worker's drain with `individual` against `to` (and
`bcc`) at the same recipient count.

One aiosmtpd sink in its own process; in this process, for each mode in turn (`--rounds`
times, the modes alternating so a slow spell of a shared machine lowers them all): a fresh
database with tenant "bench" (`--recipients` recipients, the mode set), `--events` QUEUE_SLA
events emitted (the emit rate is measured too), then drained by mailbell's worker (pool of 8).
`to` and `bcc` make one message per event to every recipient; `individual` one message per
recipient, so it sends `--recipients` times as many messages for the same recipient deliveries.
The table gives medians: messages/s, recipient deliveries/s (recipients the sink accepted),
the worker's CPU time per recipient delivery (this process, all threads: steadier than rates
on a loaded machine), events/s through emit, each against `to`.

    .venv/bin/python bench/recipient_mode_bench.py [--events 1000] [--recipients 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import emit_many  # noqa: E402
from bench.sinks import start_sink  # noqa: E402

MODES = ("to", "bcc", "individual")


def make_context(home: Path, port: int, recipients: list[str], mode: str):
    from core.config import Settings
    from core.context import build_context
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.audit import Actor
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant

    ctx = build_context(Settings(home=home))
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
                    "recipients": ",".join(recipients),
                    "recipient_mode": mode,
                    "notify_queue_sla_breached": True,
                    # every event sent on its own: this measures sending, not digests
                    "digest.QUEUE_SLA": "off",
                },
                system=False,
            ),
            actor=actor,
        )
    return ctx, tenant


async def drain(ctx) -> tuple[int, int, float, float]:
    """Drain everything due: (messages sent, recipients accepted, seconds, CPU seconds of this
    process: the worker's loop and its database thread)."""
    from sqlmodel import select

    from core.models.delivery import Delivery
    from core.pipeline.worker import Worker

    worker = Worker(ctx, pool_size=8, max_in_flight=64)
    started, cpu = time.perf_counter(), time.process_time()
    stats = await worker.run_once()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await worker.close()
    with ctx.session() as session:
        results = session.exec(select(Delivery.results)).all()
    accepted = sum(1 for row in results for r in row.values() if r["status"] == "sent")
    return stats.sent, accepted, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    recipients = [f"user{n}@example.org" for n in range(1, args.recipients + 1)]
    base = Path(tempfile.mkdtemp(prefix="mailbell-bench-modes-"))
    sink, port = start_sink()
    measured: dict[str, dict[str, list[float]]] = {
        mode: {"messages": [], "recipients": [], "emit": [], "cpu": []} for mode in MODES
    }
    try:
        for round_number in range(args.rounds):
            for mode in MODES:
                ctx, tenant = make_context(base / f"{mode}-{round_number}", port, recipients, mode)
                measured[mode]["emit"].append(emit_many(ctx, tenant, args.events))
                sent, accepted, elapsed, cpu = asyncio.run(drain(ctx))
                ctx.close()
                expected = args.events * (args.recipients if mode == "individual" else 1)
                if sent != expected or accepted != args.events * args.recipients:
                    raise SystemExit(f"{mode}: sent {sent} of {expected}, accepted {accepted}")
                measured[mode]["messages"].append(sent / elapsed)
                measured[mode]["recipients"].append(accepted / elapsed)
                measured[mode]["cpu"].append(cpu / accepted * 1e6)
    finally:
        sink.terminate()

    medians = {
        mode: {k: statistics.median(v) for k, v in m.items()} for mode, m in measured.items()
    }
    base_mode = medians["to"]
    print(
        f"{args.events} QUEUE_SLA events to {args.recipients} recipients, aiosmtpd sink in its "
        f"own process, worker pool of 8, {args.rounds} rounds (medians)"
    )
    header = (
        "mode",
        "messages/s",
        "recipients/s",
        "x to",
        "worker CPU us/recipient",
        "x to",
        "emit events/s",
        "x to",
    )
    rows = [
        (
            mode,
            f"{m['messages']:,.0f}",
            f"{m['recipients']:,.0f}",
            f"{m['recipients'] / base_mode['recipients']:.2f}",
            f"{m['cpu']:,.0f}",
            f"{m['cpu'] / base_mode['cpu']:.2f}",
            f"{m['emit']:,.0f}",
            f"{m['emit'] / base_mode['emit']:.2f}",
        )
        for mode, m in medians.items()
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print(
            "  ".join(
                str(v).rjust(w) if i else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
