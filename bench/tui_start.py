"""TUI start-up: process start → first screen painted (headless), next to a bare Textual app.

    .venv/bin/python bench/tui_start.py [--runs 5] [--tenants 50] [--deliveries 10000]

Builds a throwaway MAILBELL_HOME with 50 tenants and 10,000 deliveries, then starts each
program as a fresh process, several times, and reports the median of:
- bare: a Textual app with a header, a table and a footer (the floor: Python + Textual);
- tui: `mailbell tui` as the CLI runs it (settings, migrations check, Textual, first page);
  "first paint" is the first frame; "data" is the tenants table filled;
- tui --tenant: the same, opening straight into one tenant (its settings page).
Then, in one process: the time to load the first page of the delivery log (query + table).
Prints a table; not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import time, sys
from textual.app import App
from textual.widgets import DataTable, Footer, Header
class Bare(App):
    def compose(self):
        yield Header(); yield DataTable(); yield Footer()
    def on_mount(self):
        self.call_after_refresh(self.painted)
    def painted(self):
        print(json.dumps({"paint": time.time()}), flush=True); self.exit()
import json
Bare().run(headless=True, size=(80, 24))
"""

# The CLI path of `mailbell tui`, with two probes: the first frame, and the first data shown.
TUI = """
import json, sys, time
from textual.app import App
marks = {}
def probe(app):
    def painted():
        marks.setdefault("paint", time.time())
    app.call_after_refresh(painted)
    def data_shown():
        screen = app.screen
        table = screen.query("DataTable")
        if (table and table.first().row_count) or getattr(screen, "view", None) is not None:
            marks.setdefault("data", time.time())
        if "data" in marks:
            marks.setdefault("paint", marks["data"])  # a frame was painted to show the data
            print(json.dumps(marks), flush=True)
            app.exit()
    app.set_interval(0.005, data_shown)
original = App.run
def run(self, *args, **kwargs):
    self.call_later(probe, self)
    return original(self, headless=True, size=(80, 24))
App.run = run
if sys.argv[1:2] == ["lazy"]:  # what `mailbell tui` does when it hands run_tui the factory
    from mailbell.commands._common import context
    from tui.app import run_tui
    run_tui(context)
else:
    from mailbell.cli import run as cli
    sys.exit(cli(sys.argv[1:]))
"""


def build_home(home: Path, tenants: int, deliveries: int) -> None:
    """Tenants, a system server, and deliveries inserted in bulk (emit would render each)."""
    os.environ["MAILBELL_HOME"] = str(home)
    from core.catalog import sample
    from core.context import build_context
    from core.models.delivery import Delivery
    from core.models.mail import MailServerCreate
    from core.models.tenancy import NotificationSettingsUpdate
    from core.pipeline.emit import emit
    from core.services.audit import Actor
    from core.services.mail_servers import create_mail_server
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant

    ctx = build_context()
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data=MailServerCreate.from_fields(
                {
                    "name": "system",
                    "host": "smtp.example.com",
                    "auth": "DISABLE",
                    "mail_from": "noc@example.com",
                }
            ),
        )
        update_notification_settings(
            tenant=None,
            session=session,
            box=ctx.box,
            actor=actor,
            changes=NotificationSettingsUpdate.parse({"apply_to_all_tenants": True}, system=True),
        )
        slugs = [
            create_tenant(session=session, slug=f"tenant-{i:02d}", actor=actor)
            for i in range(tenants)
        ]
        first = emit(
            session=session,
            box=ctx.box,
            tenant=slugs[0],
            event="VOICEMAIL_RECEIVED",
            data=sample("VOICEMAIL_RECEIVED"),
        )
        template = first.deliveries[0]
        statuses = ("sent", "sent", "sent", "failed", "queued", "suppressed")
        rows = [
            Delivery(
                event_id=template.event_id,
                tenant_id=slugs[i % tenants].id,
                event=template.event,
                target=f"user{i}@example.com",
                status=statuses[i % len(statuses)],
                attempts=1 + i % 3,
                last_error="550 5.1.1 no such user" if i % 6 == 3 else None,
            )
            for i in range(deliveries - 1)
        ]
        session.add_all(rows)
        session.commit()
    ctx.close()


def run_once(code: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode not in (0, None) and not lines:
        raise RuntimeError(f"benchmark child failed: {result.stderr[-2000:]}")
    marks = json.loads(lines[-1])
    return {name: value - started for name, value in marks.items()}


def delivery_page(home: Path) -> tuple[float, float, float, int]:
    """In one process: opening the page (first page shown), loading the first page again,
    paging every row in while scrolling to the end, and the number of rows."""
    import asyncio

    from core.context import build_context
    from tui.app import MailbellApp

    ctx = build_context()

    async def measure() -> tuple[float, float, float, int]:
        app: Any = MailbellApp(ctx, start="tenants")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            started = time.perf_counter()
            await pilot.press("6")
            table: Any = None
            while table is None or table.row_count == 0:
                await pilot.pause(0.001)
                found = app.screen.query("#deliveries")
                table = found.first() if found else None
            opened = time.perf_counter() - started
            started = time.perf_counter()
            app.screen.reload()  # the first page again, as a filter change does
            await app.workers.wait_for_complete()
            await pilot.pause(0.001)
            first = time.perf_counter() - started
            started = time.perf_counter()
            while not app.screen.exhausted:
                table.move_cursor(row=table.row_count - 1)
                await pilot.pause(0.001)
            every = time.perf_counter() - started
            return opened, first, every, table.row_count

    try:
        return asyncio.run(measure())
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=10_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailbell-bench-") as tmp:
        home = Path(tmp)
        build_home(home, options.tenants, options.deliveries)
        env = {**os.environ, "MAILBELL_HOME": str(home), "PYTHONPATH": str(ROOT)}
        env.pop("MAILBELL_DATABASE_URL", None)
        cases = [
            ("bare Textual app", BARE, []),
            ("mailbell tui", TUI, ["tui"]),
            ("mailbell tui --tenant", TUI, ["tui", "--tenant", "tenant-07"]),
            ("run_tui(context factory)", TUI, ["lazy"]),
        ]
        results: dict[str, dict[str, float]] = {}
        for name, code, args in cases:
            run_once(code, args, env)  # warm the file cache and .pyc files
            samples = [run_once(code, args, env) for _ in range(options.runs)]
            results[name] = {
                key: statistics.median(sample[key] for sample in samples) for key in samples[0]
            }
        opened, first, every, count = delivery_page(home)
    bare = results["bare Textual app"]["paint"]
    print(
        f"{options.tenants} tenants, {options.deliveries} deliveries; "
        f"median of {options.runs} fresh processes (s)"
    )
    print(f"{'program':<24} {'first paint':>12} {'vs bare':>7} {'data shown':>11} {'vs bare':>7}")
    for name, marks in results.items():
        data = marks.get("data", marks.get("paint", 0.0))
        paint = min(marks.get("paint", data), data)
        print(f"{name:<24} {paint:12.3f} {paint / bare:7.2f} {data:11.3f} {data / bare:7.2f}")
    print(
        f"delivery log: page opened, first page shown, in {opened * 1000:.0f} ms; first page "
        f"reloaded in {first * 1000:.0f} ms; all {count} rows paged in {every:.2f} s "
        "while scrolling to the end"
    )


if __name__ == "__main__":
    main()
