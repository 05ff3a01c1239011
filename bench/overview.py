"""Benchmark: the TUI's Overview page read with 1,000 tenants and 1 M deliveries.

The rows are bench/slack_home.py's (`populate`: a third of the tenants with their own server,
two health subjects each, deliveries over the last 24 h and as many from the two days before),
with `--deliveries` of each half: 500,000 + 500,000 = 1 M by default, `--quick` 50,000 + 50,000.
Then, in this process, `--runs` times each (median and p99):

- first read: what the first paint needs, `tenant_overview_rows` for every tenant and the
  system plus the cells' text (sparklines, ages) of every row;
- refresh: one tick's database time: `tenant_overview_rows` of the rows in sight (IN_SIGHT
  tenants, what a 160x48 terminal shows) and the system; the page reads every tenant again
  only every 30 s (a full read: the first read's cost, in its thread, off the UI);
- baseline in the same run: the Slack App Home read of a system admin (`home_tenants`, the 20
  worst tenants with their details), whose statements the overview shares.

Targets: first paint < 1 s, a refresh < 50 ms of database time (p99).

    .venv/bin/python bench/overview.py [--tenants 1000] [--deliveries 500000] [--runs 30]
                                       [--database-url URL] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.slack_home import SYSTEM_ADMIN, TEAM, _p99, populate  # noqa: E402

IN_SIGHT = 40


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=500_000, help="per half (x2 in all)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--quick", action="store_true", help="100,000 deliveries, 10 runs")
    args = parser.parse_args()
    if args.quick:
        args.deliveries, args.runs = min(args.deliveries, 50_000), min(args.runs, 10)
    os.environ.pop("MAILBELL_DATABASE_URL", None)
    run(args)


def run(args: argparse.Namespace) -> None:
    from core.config import Settings
    from core.context import build_context
    from core.services.overview import tenant_overview_rows
    from core.services.slack_home import home_tenants
    from tui.data import overview as data

    with tempfile.TemporaryDirectory(prefix="mailbell-overview-bench-") as tmp:
        settings = Settings(
            home=Path(tmp), database_url=args.database_url, slack_admins=SYSTEM_ADMIN
        )
        ctx = build_context(settings)
        setup = time.perf_counter()
        populate(ctx, args.tenants, args.deliveries)
        setup_s = time.perf_counter() - setup

        def first_read() -> None:
            for row in data.load(ctx):
                data.sparkline(row.last_hour)
                oldest = row.oldest_queued
                data.age_text(oldest.total_seconds() if oldest else None)

        with ctx.session() as session:
            sight = [r.tenant_id for r in tenant_overview_rows(session=session)[1 : 1 + IN_SIGHT]]

        def refresh() -> None:
            with ctx.session() as session:
                tenant_overview_rows(session=session, tenant_ids=sight)

        def baseline() -> None:
            with ctx.session() as session:
                home_tenants(
                    session=session, admin_ids=[SYSTEM_ADMIN], user_id=SYSTEM_ADMIN, team_id=TEAM
                )

        cold = timed(first_read) * 1000  # the very first read: nothing compiled or cached
        results = {}
        for label, fn in (("baseline", baseline), ("first", first_read), ("refresh", refresh)):
            fn()
            samples = [timed(fn) * 1000 for _ in range(args.runs)]
            results[label] = (sorted(samples)[len(samples) // 2], _p99(samples))
        with ctx.session() as session:
            rows = len(tenant_overview_rows(session=session))
        dialect = ctx.engine.dialect.name
        ctx.close()

    base = results["baseline"][0]
    print(
        f"Overview, {args.tenants} tenants ({rows} rows with the system), "
        f"{2 * args.deliveries} deliveries ({args.deliveries} in the last 24 h), {dialect}, "
        f"{args.runs} runs (set-up {setup_s:.0f} s)"
    )
    print(f"{'':<44}{'median ms':>10}{'p99 ms':>9}{'vs base':>9}")
    labels = {
        "baseline": "baseline: Slack Home, system admin (20)",
        "first": "first read (rows + cells, warm)",
        "refresh": f"refresh: one tick ({IN_SIGHT} tenants in sight)",
    }
    for key, label in labels.items():
        median, p99 = results[key]
        print(f"{label:<44}{median:>10.2f}{p99:>9.2f}{median / base:>9.2f}")
    print(f"{'first read, cold (first statement compiled)':<44}{cold:>10.2f}")
    first_ok = max(cold, results["first"][1]) < 1000
    refresh_ok = results["refresh"][1] < 50
    print(f"target: first paint < 1 s: {'met' if first_ok else 'MISSED'} ({cold:.0f} ms cold)")
    print(
        f"target: refresh < 50 ms (p99): {'met' if refresh_ok else 'MISSED'} "
        f"({results['refresh'][1]:.1f} ms)"
    )


if __name__ == "__main__":
    main()
