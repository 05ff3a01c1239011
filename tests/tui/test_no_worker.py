"""The TUI tells the truth about delivery: with no worker running against the database, the
pages that queue mail show the worker banner and "queued" notifications say the mail stays
queued; W delivers it from this session (to a real SMTP server) and the row becomes sent. With
a worker's heartbeat present, neither the banner nor the note shows."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from textual.widgets import DataTable

from core.models.delivery import Delivery
from core.services import workers
from core.vocabulary import WorkerKind
from tests.support.smtp_servers import SmtpTestServer
from tests.tui.conftest import screen_text, seed, settle
from tests.tui.test_deliveries import enable
from tui.app import MailbellApp
from tui.data.workers import NO_WORKER_MESSAGE
from tui.widgets.worker_banner import WorkerBanner

EVENT = "QUEUE_CALL_LOST"


def _notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _statuses(ctx: Any) -> list[str]:
    with ctx.session() as session:
        return [d.status for d in session.exec(select(Delivery).order_by(Delivery.id)).all()]


async def _emit_sample(pilot: Any) -> None:
    """On Templates: the sample of EVENT, as the x key sends it."""
    table = pilot.app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(EVENT))
    await pilot.press("x")
    await settle(pilot)


async def test_no_worker_says_so_and_w_delivers_from_this_session(
    ctx, actor, smtp_server: SmtpTestServer
) -> None:
    seed(ctx, actor, smtp_port=smtp_server.port)
    enable(ctx, actor, "acme", "notify_queue_call_lost")
    app = MailbellApp(ctx, tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.delivery_running is False
        banner = app.screen.query_one(WorkerBanner)
        assert banner.display
        assert "No worker running: mail stays queued. W: deliver now" in screen_text(app)

        await _emit_sample(pilot)
        emitted = [n for n in _notes(app) if n.startswith(f"{EVENT} emitted")]
        assert len(emitted) == 1 and " queued" in emitted[0]
        assert emitted[0].endswith("\n" + NO_WORKER_MESSAGE)
        assert _statuses(ctx) == ["queued"]
        assert smtp_server.messages == []

        await pilot.press("W")
        await settle(pilot, rounds=5)
        assert _statuses(ctx) == ["sent"]
        assert [m.rcpt_tos for m in smtp_server.messages] == [
            ["ops@acme.example", "boss@acme.example"]
        ]
        assert "Delivered 1, failed 0, still queued 0" in _notes(app)


async def test_with_a_running_worker_no_banner_and_no_note(ctx, actor) -> None:
    seed(ctx, actor)
    enable(ctx, actor, "acme", "notify_queue_call_lost")
    # another process's worker, as `mailbell serve` writes it
    workers.announce(ctx.engine, owner="host-a:1:serve", kind=WorkerKind.SERVE)
    app = MailbellApp(ctx, tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.delivery_running is True
        assert not app.screen.query_one(WorkerBanner).display
        await _emit_sample(pilot)
        emitted = [n for n in _notes(app) if n.startswith(f"{EVENT} emitted")]
        assert len(emitted) == 1 and " queued" in emitted[0]
        assert NO_WORKER_MESSAGE not in emitted[0]
        assert "No worker" not in screen_text(app)


async def test_a_killed_worker_s_row_counts_as_none(ctx, actor) -> None:
    """A heartbeat row older than the staleness window (a killed process): the banner shows."""
    from datetime import timedelta

    from core.models._common import utcnow
    from core.models.workers import STALE_AFTER_S

    seed(ctx, actor)
    killed = utcnow() - timedelta(seconds=STALE_AFTER_S + 5)
    workers.announce(ctx.engine, owner="host-a:1:dead", kind=WorkerKind.WORKER, now=killed)
    app = MailbellApp(ctx, start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.delivery_running is False
        assert app.screen.query_one(WorkerBanner).display


async def test_the_demo_delivers_itself_no_banner(ctx, actor, tmp_path) -> None:
    """`mailbell demo` runs a worker in the TUI's process: it announces itself like any other,
    and the banner never shows, not even before its first heartbeat."""
    from tui.app import DemoOptions

    seed(ctx, actor)
    app = MailbellApp(ctx, start="deliveries", demo=DemoOptions(capture_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.delivery_running is True
        assert not app.screen.query_one(WorkerBanner).display
        for _ in range(200):  # until the demo's worker wrote its heartbeat
            with ctx.session() as session:
                if workers.delivery_running(session=session):
                    break
            await pilot.pause(0.02)
        app.refresh_workers()
        await settle(pilot)
        assert app.delivery_running is True
        assert not app.screen.query_one(WorkerBanner).display
