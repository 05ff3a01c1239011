"""Benchmark: 1 worker process against 3 on one PostgreSQL (speed).

A throwaway PostgreSQL (tests/support/postgres.py) and two local SMTP sinks (bench/sinks.py): one
answering each message after 20 ms, as a remote server's round trip, one at once. For each sink a
fresh database's outbox is filled, then drained by 1 and by 3 `Worker` processes started together,
each with `mailbell worker`'s concurrency; the rate counts from the moment every process is ready
to the last outcome. Beside it: the instant sink's ceiling, and where the CPU went (/proc).

    .venv/bin/python bench/scale_out.py [--sizes 3000,12000] [--rounds 1] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processes import cpu_seconds, machine_busy_s, postgres_cpu_s  # noqa: E402
from bench.sinks import RECIPIENTS, SINKS, ceiling, start_sink  # noqa: E402

POOL_SIZE = 4  # mailbell worker's defaults (core.pipeline.worker.Worker)
MAX_IN_FLIGHT = 64


def worker_process(home: str, url: str, pool_size: int, max_in_flight: int) -> None:
    """The worker side: build the context, say "ready", wait for "go", drain, report as JSON."""
    import resource

    from core.config import Settings
    from core.context import build_context
    from core.pipeline.worker import Worker

    ctx = build_context(Settings(home=Path(home), database_url=url))
    worker = Worker(ctx, pool_size=pool_size, max_in_flight=max_in_flight)
    print("ready", flush=True)
    sys.stdin.readline()

    async def main() -> dict[str, Any]:
        started = time.time()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        stats = await worker.run_once()
        ended = time.time()
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        await worker.close()
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (
            cpu_before.ru_utime + cpu_before.ru_stime
        )
        return {
            "sent": stats.sent,
            "claimed": stats.claimed,
            "retried": stats.retried,
            "failed": stats.failed,
            "database_errors": stats.database_errors,
            "started": started,
            "ended": ended,
            "cpu_s": cpu,
        }

    profile_dir = os.environ.get("MAILBELL_BENCH_PROFILE")
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
        report = profiler.runcall(asyncio.run, main())
        profiler.dump_stats(os.path.join(profile_dir, f"worker-{os.getpid()}.prof"))
    else:
        report = asyncio.run(main())
    ctx.close()
    print(json.dumps(report), flush=True)


@dataclass
class Drain:
    sink: str
    workers: int
    messages: int
    seconds: float
    per_worker: list[int]
    worker_cpu_s: float
    sink_cpu_s: float
    postgres_cpu_s: float
    machine_cpu_s: float
    commits: int
    rollbacks: int
    rate_limit_writes: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def cores(self, cpu_s: float) -> float:
        return cpu_s / self.seconds


def prepare(server: Any, base: Path, name: str, port: int, total: int) -> tuple[Path, str]:
    """A fresh migrated database with `total` deliveries queued for the sink on `port`."""
    from bench.pipeline import fill_queue, make_context

    url = server.create_database()
    home = base / name
    ctx, tenant = make_context(home, port, url)
    fill_queue(ctx, tenant, total)
    with ctx.engine.begin() as connection:  # fresh statistics for the planner, as autovacuum would
        connection.exec_driver_sql("ANALYZE delivery")
    ctx.close()
    return home, url


def database_stats(url: str) -> dict[str, int]:
    """Commits in the database, and the writes the shared rate limit would make (UPDATE of the
    mail_server row as a lock, send_slot rows): PostgreSQL's cumulative statistics."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
        tables = dict(
            connection.execute(  # type: ignore[arg-type]
                "SELECT relname, n_tup_upd + n_tup_ins FROM pg_stat_user_tables "
                "WHERE relname IN ('mail_server', 'send_slot')"
            ).fetchall()
        )
    assert row is not None
    return {
        "commits": int(row[0]),
        "rollbacks": int(row[1]),
        "rate_limit_writes": int(sum(tables.values())),
    }


def count_sent(url: str) -> int:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from core.db import make_engine
    from core.models.delivery import Delivery

    engine = make_engine(url)
    with Session(engine) as session:
        sent = session.exec(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        ).one()
    engine.dispose()
    return int(sent)


def drain(
    server: Any,
    base: Path,
    sink_name: str,
    sink: multiprocessing.Process,
    port: int,
    total: int,
    workers: int,
    pool_size: int,
    max_in_flight: int,
) -> Drain:
    home, url = prepare(server, base, f"{sink_name}-{workers}-{time.monotonic_ns()}", port, total)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker-process",
        str(home),
        url,
        str(pool_size),
        str(max_in_flight),
    ]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    try:
        for process in processes:  # every process imported, connected and ready
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"worker process did not start: {line!r}")
        stats_before = database_stats(url)
        sink_before = cpu_seconds(sink.pid or 0)
        machine_before = machine_busy_s()
        postgres_before = postgres_cpu_s(server.data_dir)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            assert process.stdout is not None
            reports.append(json.loads(process.stdout.readline()))
        machine_after = machine_busy_s()
        sink_after = cpu_seconds(sink.pid or 0)
        for process in processes:
            if process.wait(timeout=60) != 0:
                raise RuntimeError(f"worker process exited {process.returncode}")
        time.sleep(0.5)  # the backends have exited (their statistics flushed); reaped
        postgres_after = postgres_cpu_s(server.data_dir)
        stats_after = database_stats(url)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    sent = count_sent(url)
    if sent != total:
        raise RuntimeError(f"{sink_name}, {workers} workers: {sent} of {total} sent")
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return Drain(
        sink=sink_name,
        workers=workers,
        messages=total,
        seconds=seconds,
        per_worker=[r["sent"] for r in reports],
        worker_cpu_s=sum(r["cpu_s"] for r in reports),
        sink_cpu_s=sink_after - sink_before,
        postgres_cpu_s=postgres_after - postgres_before,
        machine_cpu_s=machine_after - machine_before,
        commits=stats_after["commits"] - stats_before["commits"] - 3,  # less our own reads
        rollbacks=stats_after["rollbacks"] - stats_before["rollbacks"],
        rate_limit_writes=stats_after["rate_limit_writes"] - stats_before["rate_limit_writes"],
    )


def print_profile(directory: Path, top: int = 25) -> None:
    """The functions the workers spent their time in, every profile of `directory` summed."""
    import io
    import pstats

    files = sorted(str(path) for path in directory.glob("worker-*.prof"))
    if not files:
        return
    out = io.StringIO()
    stats = pstats.Stats(*files, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print()
    print(f"Worker profile ({len(files)} processes, every drain), by own time:")
    print()
    print("```")
    print(out.getvalue().strip())
    print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="3000,12000",
        help="deliveries drained: SLOW,INSTANT (the 20 ms sink, the instant sink)",
    )
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=POOL_SIZE, help="SMTP connections a worker")
    parser.add_argument("--in-flight", type=int, default=MAX_IN_FLIGHT)
    parser.add_argument("--rounds", type=int, default=1, help="best of N drains per case")
    parser.add_argument(
        "--sink", default="aiosmtpd", help=f"the SMTP sinks, comma-separated: {', '.join(SINKS)}"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="cProfile every worker into DIR; print the top functions"
    )
    args = parser.parse_args()
    args.slow, args.instant = (int(n) for n in args.sizes.split(","))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        os.environ["MAILBELL_BENCH_PROFILE"] = str(Path(args.profile).resolve())

    from tests.support.postgres import PostgresServer

    kinds = [kind for kind in args.sink.split(",") if kind]
    if not kinds or set(kinds) - set(SINKS):
        parser.error(f"--sink: a comma-separated list of {', '.join(SINKS)}")
    base = Path(tempfile.mkdtemp(prefix="mailbell-scale-"))
    server = PostgresServer()
    sinks: list[multiprocessing.Process] = []
    slow = f"{args.delay_ms:g} ms"
    targets = {slow: 2.5, "instant": 0.9}
    # (sink kind, sink name) -> process, port, deliveries
    cases: dict[tuple[str, str], tuple[multiprocessing.Process, int, int]] = {}
    ceilings: dict[str, float] = {}
    results: dict[tuple[str, str, int], Drain] = {}
    try:
        server.start()
        server.prepare_template()
        for kind in kinds:
            slow_sink, slow_port = start_sink(delay_s=args.delay_ms / 1000, kind=kind)
            instant_sink, instant_port = start_sink(kind=kind)
            sinks += [slow_sink, instant_sink]
            ceilings[kind] = ceiling(instant_port, args.instant, warm_up=300)
            cases[(kind, slow)] = (slow_sink, slow_port, args.slow)
            cases[(kind, "instant")] = (instant_sink, instant_port, args.instant)
        for _ in range(args.rounds):
            for (kind, name), (sink, port, total) in cases.items():
                for workers in (1, 3):
                    run = drain(
                        server, base, name, sink, port, total, workers, args.pool, args.in_flight
                    )
                    best = results.get((kind, name, workers))
                    if best is None or run.rate > best.rate:
                        results[(kind, name, workers)] = run
    finally:
        for sink in sinks:
            sink.terminate()
        try:
            server.stop("immediate")
        finally:
            shutil.rmtree(server.base_dir, ignore_errors=True)
            shutil.rmtree(base, ignore_errors=True)

    print(
        f"Drain rate of 1 and 3 worker processes on one PostgreSQL ({os.cpu_count()} CPUs), each "
        f"worker {args.pool} SMTP connections and {args.in_flight} deliveries in flight; "
        f"{RECIPIENTS.count(',') + 1} recipients a message; best of {args.rounds}. Sinks: "
        + "; ".join(f"{kind}: {SINKS[kind]}" for kind in kinds)
        + "."
    )
    print()
    print("| sink | workers | messages | seconds | msg/s | 3 workers / 1 | target | vs ceiling |")
    print("| --- | --: | --: | --: | --: | --: | --: | --: |")
    for kind in kinds:
        print(
            f"| {kind}, instant: raw aiosmtplib, 8 connections (ceiling) | - | {args.instant} | "
            f"{args.instant / ceilings[kind]:.1f} | {ceilings[kind]:,.0f} | | | 1.00 |"
        )
        for sink_kind, name in cases:
            if sink_kind != kind:
                continue
            one = results[(kind, name, 1)]
            for workers in (1, 3):
                run = results[(kind, name, workers)]
                ratio = f"{run.rate / one.rate:.2f}" if workers == 3 else "1.00"
                target = f"≥ {targets[name]}" if workers == 3 else ""
                print(
                    f"| {kind}, {name} | {workers} | {run.messages} | {run.seconds:.1f} | "
                    f"{run.rate:,.0f} | {ratio} | {target} | {run.rate / ceilings[kind]:.2f} |"
                )
    print()
    print(
        "Where the time went, per message: CPU ms of the worker processes, the sink and "
        "PostgreSQL; the whole machine's busy cores (anything else running counts there); "
        "database commits per 100 messages, and writes of the shared rate limit "
        "(none: no limit is set)."
    )
    print()
    print(
        "| sink | workers | sent by each | worker ms | sink ms | PostgreSQL ms "
        "| machine cores busy | commits / 100 msgs | rate-limit writes |"
    )
    print("| --- | --: | --- | --: | --: | --: | --: | --: | --: |")
    for (kind, name, workers), run in results.items():
        per_message = [
            1000 * cpu / run.messages
            for cpu in (run.worker_cpu_s, run.sink_cpu_s, run.postgres_cpu_s)
        ]
        print(
            f"| {kind}, {name} | {workers} | {' / '.join(str(n) for n in run.per_worker)} | "
            + " | ".join(f"{ms:.2f}" for ms in per_message)
            + f" | {run.cores(run.machine_cpu_s):.2f} | {100 * run.commits / run.messages:.1f} "
            f"| {run.rate_limit_writes} |"
        )
    if args.profile:
        print_profile(Path(args.profile))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--worker-process":
        worker_process(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
