"""The health watch's cost: one full pass of the mail-server check over 1,000 servers against
the interval, and the worker's drain rate with health passes running beside it against without.

A few aiosmtpd sinks with STARTTLS and AUTH (tests/support/smtp_servers.py) run in processes of
their own; 1,000 tenants each have a default server on one of them (many servers share a sink
port), trusting that sink's CA, so every probe does what it does against a real server: TCP,
greeting, EHLO, STARTTLS with certificate verification, EHLO again, AUTH PLAIN.

  (a) one probe alone (the baseline), then the whole pass (`core.health.checks.mail_servers`)
      at the default concurrency (16): its time, probes per second, its share of the interval
      (MAILBELL_HEALTH_INTERVAL_S, 900 s) and the CPU it took in this process. A pass starts at
      most PROBES_PER_S probes a second (faster only to end within half its cutoff), so its
      time is mostly that pace, not the servers' speed;
  (b) the worker draining `--drain` deliveries (3 recipients each) to a plain aiosmtpd sink,
      alone, and again while health passes (mail servers and delivery signals, recorded as
      `mailbell serve` records them) run on the same event loop all through the drain — as in
      `mailbell serve`, where the health watch shares the worker's loop. The two run in turns,
      `--rounds` times; the table gives the medians and the range of the per-round ratios.
      On its schedule a pass runs once per interval, so the drain loses at most the measured
      loss times the pass's share of the interval.

    .venv/bin/python bench/health_bench.py [--servers 1000] [--sinks 4] [--drain 3000]
                                           [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sinks import RECIPIENTS, start_sink  # noqa: E402

TLS_SINK = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests.support.smtp_servers import SmtpTestServer
server = SmtpTestServer(mode="starttls", auth=True).start()
print(server.port, server.certs.ca_file, flush=True)
while True:
    time.sleep(3600)
"""
USER, PASSWORD = "user@example.com", "correct-horse"  # the sinks' account (DEFAULT_USERS)
PACE = 10.0  # core.health.checks.mail_servers.PROBES_PER_S, put back after an unpaced run


def start_tls_sinks(count: int) -> tuple[list[subprocess.Popen[bytes]], list[tuple[int, str]]]:
    """`count` STARTTLS+AUTH sinks, each in its own process, and their (port, CA file)."""
    processes, sinks = [], []
    for _ in range(count):
        # stderr: a pass cancelled mid-handshake makes aiosmtpd log the reset connection
        process = subprocess.Popen(
            [sys.executable, "-c", TLS_SINK, str(ROOT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        port, ca_file = process.stdout.readline().decode().split()
        processes.append(process)
        sinks.append((int(port), ca_file))
    return processes, sinks


def make_servers(ctx: Any, sinks: list[tuple[int, str]], count: int) -> None:
    """`count` tenants, each with one default server on one of `sinks` (rows written at once:
    the services' per-row audit would only slow the set-up)."""
    from core.models.mail import MailServer
    from core.models.tenancy import Tenant

    password = ctx.box.encrypt(PASSWORD)
    with ctx.session() as session:
        tenants = [Tenant(slug=f"t{n}", name=f"Tenant {n}") for n in range(count)]
        session.add_all(tenants)
        session.flush()
        for n, tenant in enumerate(tenants):
            port, ca_file = sinks[n % len(sinks)]
            session.add(
                MailServer(
                    tenant_id=tenant.id,
                    name=f"out {n}",
                    host="127.0.0.1",
                    port=port,
                    security="starttls",
                    auth="PLAIN",
                    username=USER,
                    password_enc=password,
                    mail_from=f"pbx@t{n}.example",
                    ca_file=ca_file,
                    is_default=True,
                )
            )
        session.commit()


def make_drain_tenant(ctx: Any, port: int) -> Any:
    """Tenant "bench" sending QUEUE_SLA to RECIPIENTS through the plain sink on `port`."""
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.audit import Actor
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant

    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        tenant = create_tenant(session=session, slug="bench", actor=actor)
        fields = {
            "server": "127.0.0.1",
            "port": port,
            "security": "none",
            "auth": "DISABLE",
            "mail_from": "pbx@example.com",
            "recipients": RECIPIENTS,
            "notify_queue_sla_breached": True,
        }
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(fields, system=False),
            actor=actor,
        )
        return tenant


class Queue:
    """Queues `count` deliveries at a time: copies of one emitted delivery and its message."""

    def __init__(self, ctx: Any, tenant: Any) -> None:
        from sqlmodel import col, select

        from core.catalog import sample
        from core.models.delivery import Delivery, DeliveryContent
        from core.pipeline.emit import emit

        self.ctx = ctx
        with ctx.session() as session:
            result = emit(
                session=session,
                box=ctx.box,
                tenant=tenant,
                event="QUEUE_SLA",
                data=sample("QUEUE_SLA"),
            )
            first = result.deliveries[0].id
            row = session.exec(select(Delivery).where(col(Delivery.id) == first)).one()
            content = session.get(DeliveryContent, first)
            assert content is not None
            self.row = row.model_dump(exclude={"id"})
            self.content = content.content
            session.delete(row)
            session.commit()

    def fill(self, count: int) -> None:
        from sqlalchemy import func, insert, literal, select
        from sqlmodel import col

        from core.models._common import utcnow
        from core.models.delivery import Delivery, DeliveryContent

        now = utcnow()
        row = {**self.row, "created_at": now, "updated_at": now, "next_attempt_at": now}
        with self.ctx.session() as session:
            last = session.execute(select(func.max(col(Delivery.id)))).scalar() or 0
            session.execute(insert(Delivery), [row] * count)
            copies = select(col(Delivery.id), literal(self.content)).where(col(Delivery.id) > last)
            session.execute(insert(DeliveryContent).from_select(["delivery_id", "content"], copies))
            session.commit()


def cpu_seconds() -> float:
    """CPU time of this process, its threads included (the sinks are other processes)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_probe(ctx: Any, times: int) -> float:
    """Median seconds of one server's probe, run alone (its TLS context built once, as a pass
    builds one per distinct trust setting)."""
    from core.health.checks.mail_servers import TlsContexts, effective_servers, probe
    from core.health.runner import CheckScope

    server = (await asyncio.to_thread(effective_servers, ctx, CheckScope()))[0]
    contexts = TlsContexts()
    took = []
    for _ in range(times + 1):
        started = time.perf_counter()
        result = await probe(ctx, server, ctx.settings.health_check_timeout_s, contexts)
        took.append(time.perf_counter() - started)
        assert result.state == "ok", result.reason
    return statistics.median(took[1:])


async def full_pass(ctx: Any, *, paced: bool = True) -> tuple[float, float, int]:
    """(seconds, CPU seconds of this process, servers) of one pass of the mail-server check;
    not `paced`: probes start as fast as the concurrency lets them (what the machine can do)."""
    from core.health.checks import mail_servers
    from core.health.runner import CheckScope

    pace = mail_servers.PROBES_PER_S
    if not paced:
        mail_servers.PROBES_PER_S = float("inf")
    started, cpu = time.perf_counter(), cpu_seconds()
    try:
        results = await mail_servers.check(ctx, CheckScope())
    finally:
        mail_servers.PROBES_PER_S = pace
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    bad = [r for r in results if r.state != "ok"]
    if bad:
        raise SystemExit(f"{len(bad)} servers not ok, e.g. {bad[0].reason}")
    return elapsed, cpu, len(results)


async def drain(ctx: Any, *, with_health: bool, paced: bool = True) -> tuple[float, int, int]:
    """Deliveries a second the worker sends; with `with_health`, health passes run one after
    the other on the same loop meanwhile (the one still running at the end is cancelled), not
    `paced`: as fast as the concurrency lets them. Returns (rate, sent, passes finished)."""
    from core.health.checks import mail_servers
    from core.health.runner import CHECKS, run_pass
    from core.pipeline.worker import Worker

    if not paced:
        mail_servers.PROBES_PER_S = float("inf")

    checks = tuple(c for c in CHECKS if c.name in ("mail_servers", "deliveries"))
    stop = asyncio.Event()
    passes = 0

    async def health() -> None:
        nonlocal passes
        while not stop.is_set():
            await run_pass(ctx, checks)
            if not stop.is_set():
                passes += 1

    watcher = asyncio.create_task(health()) if with_health else None
    await asyncio.sleep(0)  # the pass is under way before the drain starts
    worker = Worker(ctx, pool_size=8, max_in_flight=64)
    started = time.perf_counter()
    stats = await worker.run_once()
    elapsed = time.perf_counter() - started
    stop.set()
    await worker.close()
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    mail_servers.PROBES_PER_S = PACE
    return stats.sent / elapsed, stats.sent, passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--sinks", type=int, default=4)
    parser.add_argument("--drain", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    from core.config import Settings
    from core.context import build_context

    tls_processes, tls_sinks = start_tls_sinks(args.sinks)
    drain_sink, drain_port = start_sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = build_context(Settings(home=Path(tmp)))
            make_servers(ctx, tls_sinks, args.servers)
            queue = Queue(ctx, make_drain_tenant(ctx, drain_port))
            settings = ctx.settings
            probe_s = asyncio.run(one_probe(ctx, 20))
            pass_s, pass_cpu, probed = asyncio.run(full_pass(ctx))
            unpaced_s, _, _ = asyncio.run(full_pass(ctx, paced=False))
            queue.fill(min(300, args.drain))  # warm up: the first drain of a process is slower
            asyncio.run(drain(ctx, with_health=False))
            alone: list[float] = []
            beside: list[float] = []
            passes = 0
            for round_ in range(args.rounds):
                # alternate which goes first, so a slow drift does not favour one side
                for with_health in (False, True) if round_ % 2 == 0 else (True, False):
                    queue.fill(args.drain)
                    rate, sent, done = asyncio.run(drain(ctx, with_health=with_health))
                    if sent != args.drain:
                        raise SystemExit(f"the worker sent {sent} of {args.drain}")
                    (beside if with_health else alone).append(rate)
                    passes += done
            queue.fill(args.drain)  # once: what the pace is for
            unpaced_rate, sent, _ = asyncio.run(drain(ctx, with_health=True, paced=False))
            ctx.close()
    finally:
        for process in tls_processes:
            process.terminate()
            process.wait()
        drain_sink.terminate()
        drain_sink.join()

    from core.health.checks.mail_servers import PROBES_PER_S

    assert PROBES_PER_S == PACE, "PACE must be the check's pace"
    interval = settings.health_interval_s
    print(
        f"{probed} mail servers on {args.sinks} STARTTLS+AUTH sinks, concurrency "
        f"{settings.health_concurrency}, at most {PROBES_PER_S:g} probes started a second, "
        f"interval {interval:g} s"
    )
    print(f"{'':44} {'seconds':>9} {'probes/s':>9}")
    print(f"{'one probe alone (baseline)':44} {probe_s:9.3f} {1 / probe_s:9.0f}")
    print(f"{'one full pass of the mail-server check':44} {pass_s:9.2f} {probed / pass_s:9.0f}")
    print(
        f"{'the same pass, not paced (the capacity)':44} {unpaced_s:9.2f} {probed / unpaced_s:9.0f}"
    )
    share = pass_s / interval
    print(f"pass / interval: {share:.4f} ({share * 100:.2f} % of the interval)")
    print(f"pass / (servers x one probe): {pass_s / (probed * probe_s):.3f}")
    print(
        f"CPU of this process for the pass: {pass_cpu:.1f} s ({pass_cpu / probed * 1000:.1f} ms "
        f"a server; {pass_cpu / interval * 100:.2f} % of one CPU over the interval)"
    )
    print()
    ratios = [b / a for a, b in zip(alone, beside, strict=True)]
    rate_alone, rate_beside = statistics.median(alone), statistics.median(beside)
    print(
        f"worker drain, {args.drain} deliveries (3 recipients each), {args.rounds} rounds "
        f"(medians); a health pass running all through each drain ({passes} finished)"
    )
    print(f"{'':44} {'deliv/s':>9} {'x alone':>9}")
    print(f"{'worker alone (baseline)':44} {rate_alone:9.0f} {1.0:9.2f}")
    print(
        f"{'worker with a health pass running':44} {rate_beside:9.0f} "
        f"{rate_beside / rate_alone:9.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f})"
    )
    print(
        f"{'worker with an unpaced pass running (1 round)':44} {unpaced_rate:9.0f} "
        f"{unpaced_rate / rate_alone:9.2f}"
    )
    loss = 1 - rate_beside / rate_alone
    print(
        f"drain loss while a pass runs: {loss * 100:.1f} %; on the schedule (a pass "
        f"{share * 100:.2f} % of the time): {loss * share * 100:.2f} % (target within 5 %)"
    )


if __name__ == "__main__":
    main()
