"""Benchmark of digests on the emit path: events/s through `emit` for a burst of one event with
digests on (policy 3/10m: three singles, every later event held into one digest) against off.

In this process, for each mode in turn (`--rounds` times, the modes alternating so a slow spell
of a shared machine lowers both): a fresh SQLite database (or a fresh schema-less PostgreSQL
database given by `--database-url`, emptied between rounds) with tenant "bench", QUEUE_CALL_LOST
on, the digest policy set; `--events` events emitted one `emit` call (one transaction) each.
Nothing is sent. The table gives the median events/s and CPU time per emit of each mode (the
CPU column moves less on a shared machine), each against off, and the SQL statements one emit
runs (counted on the connection), so that "off" shows no digest query.

    .venv/bin/python bench/digest_bench.py [--events 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = {"off": "off", "on": "3/10m"}


def make_context(home: Path, policy: str):
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
        changes = NotificationSettingsUpdate.parse(
            {
                "server": "127.0.0.1",
                "port": 2525,
                "security": "none",
                "auth": "DISABLE",
                "mail_from": "pbx@example.com",
                "recipients": "ops@example.com,noc@example.com",
                "notify_queue_call_lost": True,
                "digest.QUEUE_CALL_LOST": policy,
            },
            system=False,
        )
        update_notification_settings(
            session=session, box=ctx.box, tenant=tenant, changes=changes, actor=actor
        )
    return ctx, tenant


def run(home: Path, mode: str, events: int) -> tuple[float, float, float, int]:
    """Emit `events` events; (events/s, CPU µs per emit, statements per emit past the first
    ten, held rows). SQLite runs in this process: the CPU time includes the database's."""
    from sqlalchemy import event, func
    from sqlmodel import select

    from core.catalog import sample
    from core.models.delivery import Delivery
    from core.pipeline.emit import emit

    ctx, tenant = make_context(home, MODES[mode])
    data = sample("QUEUE_CALL_LOST")
    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    with ctx.session() as session:
        for _ in range(10):  # warm: configuration cache, compiled statements, the burst's row
            emit(session=session, box=ctx.box, tenant=tenant, event="QUEUE_CALL_LOST", data=data)
        event.listen(ctx.engine, "before_cursor_execute", count)
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(events):
            emit(session=session, box=ctx.box, tenant=tenant, event="QUEUE_CALL_LOST", data=data)
        rate = events / (time.perf_counter() - started)
        cpu_us = (time.process_time() - cpu) / events * 1e6
        event.remove(ctx.engine, "before_cursor_execute", count)
        held = session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status == "held")
        ).one()
    ctx.close()
    return rate, cpu_us, statements[0] / events, int(held)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("MAILBELL_DATABASE_URL", None)
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpus: dict[str, list[float]] = {mode: [] for mode in MODES}
    statements: dict[str, float] = {}
    held: dict[str, int] = {}
    for _ in range(args.rounds):
        for mode in MODES:
            with tempfile.TemporaryDirectory(prefix="mailbell-digest-bench-") as tmp:
                rate, cpu_us, per_emit, held[mode] = run(Path(tmp), mode, args.events)
            rates[mode].append(rate)
            cpus[mode].append(cpu_us)
            statements[mode] = per_emit
    off = statistics.median(rates["off"])
    off_cpu = statistics.median(cpus["off"])
    print(
        f"emit, one event's burst, {args.events} events, median of {args.rounds} rounds "
        "(SQLite, one transaction per event)"
    )
    print(
        f"{'digests':<9}{'policy':<8}{'events/s':>9}{'vs off':>8}{'CPU us/emit':>13}"
        f"{'vs off':>8}{'SQL/emit':>10}{'held':>6}"
    )
    for mode, policy in MODES.items():
        rate, cpu = statistics.median(rates[mode]), statistics.median(cpus[mode])
        print(
            f"{mode:<9}{policy:<8}{rate:>9.0f}{rate / off:>8.2f}{cpu:>13.0f}{cpu / off_cpu:>8.2f}"
            f"{statements[mode]:>10.1f}{held[mode]:>6}"
        )


if __name__ == "__main__":
    main()
