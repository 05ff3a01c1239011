"""Benchmark: mailbell's time to publish a Slack App Home (without the HTTP call to Slack).

One SQLite database (or `--database-url`) with `--tenants` tenants (a third with a server of
their own, the rest on the system's server, which applies to all), two health subjects each
(some warning or critical), and `--deliveries` deliveries spread over the last 24 h (sent,
some failed, partial, queued), plus as many again from the two days before, which the Home
must not read. Then, in this process, `--runs` times each (median and p99):

- the Home of a system admin (every tenant: the 20 worst shown, "and N more"):
  `home_tenants` + `home_view` + the JSON encoding slack_sdk does, and the digest the
  refresher compares (its pass does all of this for each user it watches);
- the Home of an admin of one tenant;
- baselines measured in the same run: the `/mailbell status` read of one tenant
  (`status_view`, the bot's p99 < 25 ms command), and the same 20 tenants read one by one
  with the status's per-tenant services (`tenant_overview` + `health_lines`), i.e. the Home
  without its set-based queries;
- one refresher pass over 100 users who opened their Home (10 system admins, who share one
  read, and 90 admins of one tenant each): what `mailbell serve` builds every 10 s.

Target: the system admin's Home with 1,000 tenants < 300 ms.

    .venv/bin/python bench/slack_home.py [--tenants 1000] [--deliveries 100000] [--runs 50]
                                         [--database-url URL | --postgres] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYSTEM_ADMIN = "UBENCHSYS1"
TENANT_ADMIN = "UBENCHTEN1"
TEAM = "T0TEAM"
WATCHED = 100
STATUSES = (("sent", 90), ("failed", 5), ("partial", 1), ("queued", 3), ("sending", 1))


def populate(ctx: Any, tenants: int, deliveries: int, seed: int = 7) -> int:
    """The rows; returns the id of the tenant whose admin is TENANT_ADMIN."""
    from sqlalchemy import insert

    from core.models._common import utcnow
    from core.models.delivery import Delivery, EventRecord
    from core.models.health import HealthSubject
    from core.models.mail import MailServer
    from core.models.slack import SlackTenantAdmin
    from core.models.tenancy import NotificationSettings, SystemSettings, Tenant

    rng = random.Random(seed)
    now = utcnow()
    with ctx.session() as session:
        system = session.get(SystemSettings, 1) or SystemSettings(id=1)
        system.apply_to_all_tenants = True
        session.add(system)
        session.add(
            MailServer(tenant_id=None, name="shared", host="smtp.example.net", is_default=True)
        )
        rows = [Tenant(slug=f"t{n:04d}", name=f"Tenant {n}") for n in range(tenants)]
        session.add_all(rows)
        session.flush()
        ids = [t.id or 0 for t in rows]
        for n, tenant_id in enumerate(ids):
            session.add(NotificationSettings(tenant_id=tenant_id, recipients=["ops@example.com"]))
            if n % 3 == 0:
                session.add(
                    MailServer(
                        tenant_id=tenant_id,
                        name=f"own {n}",
                        host=f"smtp.t{n}.example",
                        is_default=True,
                    )
                )
            for kind, key in (
                ("mail_server", f"mail_server:t{n}"),
                ("backlog", f"backlog:tenant:{tenant_id}"),
            ):
                roll = rng.random()
                state = "critical" if roll < 0.02 else "warning" if roll < 0.07 else "ok"
                reason = "" if state == "ok" else f"{kind} trouble {n}"
                session.add(
                    HealthSubject(
                        key=key,
                        kind=kind,
                        tenant_id=tenant_id,
                        subject=key,
                        state=state,
                        reason=reason,
                    )
                )
        admin_tenant = ids[len(ids) // 2]
        session.add(SlackTenantAdmin(tenant_id=admin_tenant, team_id="", user_id=TENANT_ADMIN))
        events = [
            EventRecord(tenant_id=tenant_id, name="VOICEMAIL_RECEIVED", payload={})
            for tenant_id in ids
        ]
        session.add_all(events)
        session.flush()
        event_of = {e.tenant_id: e.id for e in events}
        statuses = [s for s, weight in STATUSES for _ in range(weight)]
        table = Delivery.__table__  # type: ignore[attr-defined]
        # the last 24 h, then as much again from the two days before (outside the Home's window)
        for start, span in (
            (timedelta(0), timedelta(hours=24)),
            (timedelta(hours=25), timedelta(hours=47)),
        ):
            batch: list[dict[str, Any]] = []
            for _ in range(deliveries):
                tenant_id = rng.choice(ids)
                at = now - start - span * rng.random()
                status = rng.choice(statuses)
                batch.append(
                    {
                        "event_id": event_of[tenant_id],
                        "tenant_id": tenant_id,
                        "event": "VOICEMAIL_RECEIVED",
                        "channel": "email",
                        "target": f"ops{tenant_id}@example.com",
                        "status": status,
                        "attempts": 1,
                        "last_error": "[data] 554 5.7.1 rejected"
                        if status in ("failed", "partial")
                        else None,
                        "pending": [],
                        "results": {},
                        "next_attempt_at": at,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                if len(batch) == 5000:
                    session.execute(insert(table), batch)
                    batch = []
            if batch:
                session.execute(insert(table), batch)
        session.commit()
    if ctx.engine.dialect.name == "postgresql":  # statistics, as autovacuum keeps them
        with ctx.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    return admin_tenant


def home_once(ctx: Any, user_id: str) -> tuple[dict[str, float], int, int]:
    """One Home: (seconds per step, blocks, tenants shown)."""
    from core.services.slack_home import home_tenants
    from slackbot.blocks.home import home_view
    from slackbot.home_refresh import view_digest

    times: dict[str, float] = {}
    started = time.perf_counter()
    with ctx.session() as session:
        overview = home_tenants(
            session=session, admin_ids=[SYSTEM_ADMIN], user_id=user_id, team_id=TEAM
        )
    times["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    view = home_view(overview, is_system_admin=overview.is_system_admin)
    times["view"] = time.perf_counter() - mark
    mark = time.perf_counter()
    json.dumps({"user_id": user_id, "view": view})  # what slack_sdk sends
    times["json"] = time.perf_counter() - mark
    mark = time.perf_counter()
    view_digest(view)
    times["digest"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    return times, len(view["blocks"]), len(overview.tenants)


def watchers(ctx: Any, count: int) -> list[Any]:
    """`count` users who opened their Home: a tenth system admins, the rest admins of one
    tenant each (the requests of one refresher pass)."""
    from sqlmodel import select

    from core.models.slack import SlackTenantAdmin
    from core.models.tenancy import Tenant
    from slackbot.home_refresh import HomeRequest

    requests = [HomeRequest(SYSTEM_ADMIN, TEAM, None) for _ in range(count // 10)]
    with ctx.session() as session:
        query = select(Tenant.id).order_by(Tenant.id).limit(count - len(requests))  # type: ignore[arg-type]
        for n, tenant_id in enumerate(session.exec(query).all()):
            user = f"UWATCH{n:04d}"
            session.add(SlackTenantAdmin(tenant_id=tenant_id, team_id="", user_id=user))
            requests.append(HomeRequest(user, TEAM, None))
        session.commit()
    return requests


def refresh_pass(ctx: Any, requests: list[Any]) -> float:
    """What one pass of the refresher builds, in batches as it does (publishing aside)."""
    from slackbot.home_refresh import BATCH
    from slackbot.listeners.events.home import build_views

    started = time.perf_counter()
    for start in range(0, len(requests), BATCH):
        build_views(ctx, requests[start : start + BATCH])
    return time.perf_counter() - started


def status_once(ctx: Any, tenant_id: int) -> float:
    from slackbot.listeners.commands.status import status_view

    started = time.perf_counter()
    with ctx.session() as session:
        view = status_view(session, tenant_id=tenant_id, tenant_slug="t", link_id=0)
    json.dumps(view)
    return time.perf_counter() - started


def one_by_one(ctx: Any, tenant_ids: list[int]) -> float:
    from core.services.slack_status import health_lines, tenant_overview

    started = time.perf_counter()
    with ctx.session() as session:
        for tenant_id in tenant_ids:
            tenant_overview(session=session, tenant_id=tenant_id, tenant_slug="t", failures=5)
            health_lines(session=session, tenant_id=tenant_id)
    return time.perf_counter() - started


def measure(fn: Callable[[], float], runs: int) -> tuple[float, float]:
    fn()  # warm: statements compiled, pages cached
    samples = sorted(fn() for _ in range(runs))
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples) * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--postgres", action="store_true", help="a PostgreSQL started for the run (as the tests do)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 deliveries, 15 runs")
    args = parser.parse_args()
    if args.quick:
        args.deliveries, args.runs = min(args.deliveries, 20_000), min(args.runs, 15)
    os.environ.pop("MAILBELL_DATABASE_URL", None)
    server = None
    if args.postgres:
        from tests.support.postgres import PostgresServer

        server = PostgresServer()
        server.start()
        args.database_url = server.create_database(migrated=False)
    try:
        run(args)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace) -> None:
    from core.config import Settings
    from core.context import build_context
    from slackbot.home_refresh import PERIOD_S

    with tempfile.TemporaryDirectory(prefix="mailbell-home-bench-") as tmp:
        settings = Settings(
            home=Path(tmp), database_url=args.database_url, slack_admins=SYSTEM_ADMIN
        )
        ctx = build_context(settings)
        setup = time.perf_counter()
        admin_tenant = populate(ctx, args.tenants, args.deliveries)
        setup_s = time.perf_counter() - setup
        steps: dict[str, dict[str, list[float]]] = {}
        shape: dict[str, tuple[int, int]] = {}
        for who, user in (("system admin", SYSTEM_ADMIN), ("admin of 1 tenant", TENANT_ADMIN)):
            steps[who] = {}
            home_once(ctx, user)
            for _ in range(args.runs):
                times, blocks, shown = home_once(ctx, user)
                for step, seconds in times.items():
                    steps[who].setdefault(step, []).append(seconds * 1000)
            shape[who] = (blocks, shown)
        from core.services.slack_home import home_tenants

        with ctx.session() as session:
            overview = home_tenants(
                session=session, admin_ids=[SYSTEM_ADMIN], user_id=SYSTEM_ADMIN, team_id=TEAM
            )
        shown_ids = [t.id for t in overview.tenants]
        status = measure(lambda: status_once(ctx, admin_tenant), args.runs)
        naive = measure(lambda: one_by_one(ctx, shown_ids), args.runs)
        watched = watchers(ctx, WATCHED)
        refresh = measure(lambda: refresh_pass(ctx, watched), max(args.runs // 5, 3))
        dialect = ctx.engine.dialect.name
        ctx.close()

    print(
        f"App Home, {args.tenants} tenants, {args.deliveries} deliveries in the last 24 h "
        f"(+{args.deliveries} older), {dialect}, {args.runs} runs (set-up {setup_s:.0f} s)"
    )
    print(f"{'':<40}{'median ms':>10}{'p99 ms':>9}{'vs status':>10}")
    for label, (median, p99) in (("baseline: /mailbell status, 1 tenant", status),):
        print(f"{label:<40}{median:>10.2f}{p99:>9.2f}{1.0:>10.2f}")
    for who in steps:
        blocks, shown = shape[who]
        total = steps[who]["total"]
        median, p99 = statistics.median(total), _p99(total)
        print(f"{'Home: ' + who:<40}{median:>10.2f}{p99:>9.2f}{median / status[0]:>10.2f}")
        parts = ", ".join(
            f"{step} {statistics.median(v):.2f}"
            for step, v in steps[who].items()
            if step != "total"
        )
        print(f"{'':<6}({shown} tenants shown, {blocks} blocks; medians ms: {parts})")
    median, p99 = naive
    label = "baseline: 20 tenants one by one"
    print(f"{label:<40}{median:>10.2f}{p99:>9.2f}{median / status[0]:>10.2f}")
    target = _p99(steps["system admin"]["total"])
    median, p99 = refresh
    label = f"refresher pass, {WATCHED} users watched"
    print(f"{label:<40}{median:>10.2f}{p99:>9.2f}{median / status[0]:>10.2f}")
    print(
        f"{'':<6}({WATCHED // 10} system admins, the others each an admin of one tenant; "
        f"{median / PERIOD_S / 10:.1f}% of its {PERIOD_S:.0f} s period)"
    )
    verdict = "met" if target < 300 else "MISSED"
    print(f"target: system admin's Home < 300 ms (p99): {verdict} ({target:.1f} ms)")


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
