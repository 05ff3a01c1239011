"""Benchmark of the `/api/v1` log reads on `mailbell serve` (SQLite), run by `bench/api.py
--pages`: a delivery-list page with 1 M deliveries in the table (p99 of the first page, the
100th page by cursor and the last page), and the audit export in rows per second.

The rows are written straight into the database (one SQL statement per table, not through the
services: the reads are measured, not the writes). The deliveries alternate between two tenants,
so a tenant's page filters half the table; the bench tenant's token reads its own.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = 50
DELIVERIES_PER_EVENT = 10


def fill(home: Path, deliveries: int, audit: int) -> dict[str, Any]:
    """Two tenants, `deliveries` delivery rows (alternating), `audit` audit entries; tokens."""
    from core.config import Settings
    from core.context import build_context
    from core.services.audit import Actor
    from core.services.tenants import create_tenant
    from core.services.tokens import create_token

    ctx = build_context(Settings(home=home))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        bench = create_tenant(session=session, slug="bench", actor=actor)
        other = create_tenant(session=session, slug="other", actor=actor)
        tenant_token = create_token(session=session, tenant=bench, name="bench", actor=actor)
        system_token = create_token(session=session, tenant=None, name="ops", actor=actor)
        ids = (bench.id, other.id)
    ctx.close()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with sqlite3.connect(home / "mailbell.db") as db:
        events = deliveries // DELIVERIES_PER_EVENT
        db.executemany(
            "INSERT INTO event (id, tenant_id, name, payload, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                (n + 1, ids[n % 2], "QUEUE_CALL_LOST", "{}", start.isoformat())
                for n in range(events)
            ),
        )

        def delivery(n: int) -> tuple[Any, ...]:
            at = (start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S.%f")
            event = n // DELIVERIES_PER_EVENT
            return (event + 1, ids[event % 2], "QUEUE_CALL_LOST", "email", "ops@bench.example",
                    "sent", 1, "pbx@bench.example", "[]", "{}", at, at, at, 0)  # fmt: skip

        db.executemany(
            "INSERT INTO delivery (event_id, tenant_id, event, channel, target, status, attempts,"
            " sender, pending, results, next_attempt_at, created_at, updated_at, is_digest)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (delivery(n) for n in range(deliveries)),
        )
        changes = json.dumps({"name": {"before": "Old name", "after": "New name"}})
        db.executemany(
            "INSERT INTO audit_entry (at, actor, source, tenant, action, target, fields, changes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    (start + timedelta(seconds=n)).isoformat(),
                    "token:ops",
                    "api",
                    ("bench", "other")[n % 2],
                    "tenant.rename",
                    None,
                    '["name"]',
                    changes,
                )
                for n in range(audit)
            ),
        )
    return {"tenant": tenant_token.plaintext, "system": system_token.plaintext}


async def _walk(session: Any, url: str, headers: dict[str, str], pages: int) -> str:
    """The cursor of page `pages + 1`."""
    cursor = ""
    for _ in range(pages):
        async with session.get(f"{url}&cursor={cursor}" if cursor else url, headers=headers) as r:
            cursor = (await r.json())["next_cursor"]
    return cursor


async def _p99(session: Any, url: str, headers: dict[str, str], count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            assert response.status == 200 and len(json.loads(body)["items"]) == PAGE, body[:200]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(times, n=100)[98]


async def measure(
    base: str, tokens: dict[str, str], deliveries: int, count: int
) -> dict[str, float]:
    import aiohttp

    from api.routes.v1_paging import cursor_of

    results: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for who in ("tenant", "system"):
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            url = f"{base}/api/v1/deliveries?limit={PAGE}"
            page100 = await _walk(session, url, headers, 99)
            rows = deliveries // (2 if who == "tenant" else 1)
            # the oldest 50 rows (the tenant's: among the table's oldest 100): the deepest page
            last = cursor_of(PAGE * (2 if who == "tenant" else 1) + 1)
            results[f"{who}_first"] = await _p99(session, url, headers, count)
            results[f"{who}_100th"] = await _p99(session, f"{url}&cursor={page100}", headers, count)
            results[f"{who}_last"] = await _p99(session, f"{url}&cursor={last}", headers, count)
            results[f"{who}_rows"] = rows
        headers = {"Authorization": f"Bearer {tokens['system']}"}
        started, lines = time.perf_counter(), 0
        async with session.get(f"{base}/api/v1/audit/export", headers=headers) as response:
            async for _line in response.content:
                lines += 1
        results["export_rows"] = lines
        results["export_rate"] = lines / (time.perf_counter() - started)
    return results


def run(deliveries: int, audit: int, count: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from bench.api import serving

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        tokens = fill(home, deliveries, audit)
        print(f"filled {deliveries:,} deliveries, {audit:,} audit entries in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        with serving(home) as (url, _):
            return asyncio.run(measure(url, tokens, deliveries, count))


def report(results: dict[str, float]) -> bool:
    print(f"\n| {'GET /api/v1/deliveries?limit=50':<44} | {'p99 ms':>7} | target")
    print("|" + "-" * 46 + "|" + "-" * 9 + "|" + "-" * 9)
    worst = 0.0
    for who in ("tenant", "system"):
        rows = f"{results[who + '_rows']:,.0f}"
        for page in ("first", "100th", "last"):
            value = results[f"{who}_{page}"]
            worst = max(worst, value)
            label = f"{who} token ({rows} rows): {page} page"
            print(f"| {label:<44} | {value:>7.2f} | < 50")
    print(
        f"\nGET /api/v1/audit/export: {results['export_rows']:,.0f} rows at "
        f"{results['export_rate']:,.0f} rows/s"
    )
    ok = worst < 50
    print("targets met" if ok else "TARGETS MISSED")
    return ok
