"""The Overview page: a row per tenant and the system, live, sortable, filterable, opening one."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from textual.widgets import DataTable, Input

from core.models._common import utcnow
from core.models.delivery import Delivery
from core.services.overview import BUCKETS, first_rows, tenant_overview_rows
from core.services.tenants import get_tenant
from core.vocabulary import DeliveryStatus
from tests.support.factories import make_tenant
from tests.tui.conftest import rows, screen_text, seed, settle
from tests.tui.test_deliveries import emit_for, enable
from tui.app import MailbellApp
from tui.data import overview as overview_data
from tui.data.overview import age_text, sparkline
from tui.screens.overview import OverviewScreen

SIZE = (80, 24)


@pytest.fixture
def acme_deliveries(ctx, actor) -> list[int]:
    """acme (own server) with two lost calls' deliveries queued; globex without a server."""
    seed(ctx, actor)
    enable(ctx, actor, "acme", "notify_queue_call_lost")
    ids = emit_for(ctx, "acme", "QUEUE_CALL_LOST") + emit_for(ctx, "acme", "QUEUE_CALL_LOST")
    assert ids
    return ids


def table_rows(app) -> dict[str, list[str]]:
    return {row[0]: row for row in rows(app.screen.query_one("#overview", DataTable))}


def fail(ctx, delivery_id: int) -> None:
    """What a worker's failed attempt leaves: the row's status (written as one statement)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    with ctx.session() as session:
        changed = session.execute(
            update(table).where(table.c.id == delivery_id).values(status=DeliveryStatus.FAILED)
        )
        assert changed.rowcount == 1
        session.commit()


def test_rows_read_servers_counts_and_the_last_hour(ctx, acme_deliveries) -> None:
    with ctx.session() as session:
        found = {row.slug: row for row in tenant_overview_rows(session=session)}
    system, acme, globex = found[""], found["acme"], found["globex"]
    assert system.is_system and system.source == "own"  # seed gives the system a server
    assert (acme.source, globex.source) == ("own", "not configured")
    assert (acme.sent, acme.failed, acme.queued) == (0, 0, len(acme_deliveries))
    assert acme.last_hour[-1] == len(acme_deliveries) and sum(acme.last_hour) == acme.queued
    assert len(acme.last_hour) == BUCKETS
    assert acme.oldest_queued is not None and acme.oldest_queued < timedelta(minutes=5)
    assert globex.oldest_queued is None and sum(globex.last_hour) == 0


def test_the_window_and_the_buckets_follow_now(ctx, acme_deliveries) -> None:
    """Read 20 minutes later, the deliveries sit in the fifth-newest bucket; a day later,
    outside the 24 h counts (still queued: the oldest waiting age keeps growing)."""
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        assert tenant.id is not None
        later = tenant_overview_rows(
            session=session, tenant_ids=[tenant.id], now=utcnow() + timedelta(minutes=21)
        )
        next_day = tenant_overview_rows(
            session=session, tenant_ids=[tenant.id], now=utcnow() + timedelta(hours=25)
        )
    assert [r.slug for r in later] == ["", "acme"]  # only the ids asked for, with the system
    assert later[1].last_hour[BUCKETS - 5] == len(acme_deliveries)
    assert next_day[1].queued == 0 and sum(next_day[1].last_hour) == 0
    assert next_day[1].oldest_queued is not None
    assert next_day[1].oldest_queued > timedelta(hours=24)


def test_sparkline_and_age_words() -> None:
    assert sparkline((0, 0, 0)) == "▁▁▁"
    assert sparkline((0, 1, 8)) == "▁▂█"
    assert (age_text(None), age_text(42), age_text(185), age_text(7300)) == (
        "—",
        "42 s",
        "3 min",
        "2 h",
    )


async def test_the_overview_is_the_first_page_with_a_row_per_tenant(ctx, acme_deliveries):
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        shown = table_rows(app)
        assert list(shown) == ["System", "acme", "globex"]
        queued = str(len(acme_deliveries))
        assert shown["acme"][1:6] == ["own", "—", "0", "0", queued]
        assert shown["globex"][1] == "none"  # "not configured", short at 80 columns
        assert shown["acme"][7] != "—"  # its oldest queued delivery's age
        assert shown["globex"][7] == "—"


async def test_a_failing_delivery_shows_after_the_next_refresh(ctx, acme_deliveries):
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#overview", DataTable)
        table.move_cursor(row=2)  # globex: the cursor stays where the operator left it
        assert table_rows(app)["acme"][4] == "0"
        fail(ctx, acme_deliveries[0])
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        screen.tick()
        await settle(pilot)
        acme = table_rows(app)["acme"]
        assert acme[4] == "1" and acme[5] == str(len(acme_deliveries) - 1)
        assert table.cursor_row == 2


async def test_slash_filters_and_escape_clears(ctx, acme_deliveries):
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press("g", "l", "o")
        await settle(pilot)
        assert list(table_rows(app)) == ["globex"]
        assert "filter “glo”: 1 shown" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert list(table_rows(app)) == ["System", "acme", "globex"]


async def test_sorting_changes_the_order(ctx, actor, acme_deliveries):
    with ctx.session() as session:
        make_tenant(session, slug="aardvark", actor=actor)
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert list(table_rows(app)) == ["System", "aardvark", "acme", "globex"]
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        screen.sort = "failed"
        fail(ctx, acme_deliveries[0])
        screen.tick()
        await settle(pilot)
        assert list(table_rows(app)) == ["System", "acme", "aardvark", "globex"]
        await pilot.press("s")  # failed -> queued: acme still waits most
        await settle(pilot)
        assert screen.sort == "queued"
        assert list(table_rows(app))[1] == "acme"
        for _ in range(4):  # queued -> oldest -> sent -> server -> tenant
            await pilot.press("s")
        await settle(pilot)
        assert list(table_rows(app)) == ["System", "aardvark", "acme", "globex"]


async def test_enter_opens_the_tenant(ctx, acme_deliveries):
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#overview", DataTable)
        table.move_cursor(row=2)  # globex
        await pilot.press("enter")
        await settle(pilot)
        assert app.scope == "globex"
        assert type(app.screen).__name__ in {"SettingsScreen", "NotConfiguredScreen"}


def test_snapshot_at_80x24(snap_compare, ctx, acme_deliveries, monkeypatch) -> None:
    """The page at 80x24: every column fits (short headers, "none" for not configured)."""
    monkeypatch.setattr("tui.data.overview.age_text", lambda s: "—" if s is None else "3 min")

    async def shown(pilot) -> None:
        await settle(pilot)

    assert snap_compare(MailbellApp(ctx), terminal_size=SIZE, run_before=shown)


def test_rows_of_some_tenants_without_the_system(ctx, acme_deliveries) -> None:
    """A session's role reads its tenants only (and no system row unless a system admin)."""
    with ctx.session() as session:
        found = tenant_overview_rows(session=session, slugs=frozenset({"acme"}), system=False)
        none = tenant_overview_rows(session=session, slugs=frozenset(), system=False)
    assert [r.slug for r in found] == ["acme"] and found[0].queued == len(acme_deliveries)
    assert none == []


async def test_a_tenant_admin_sees_its_tenants_only(ctx, acme_deliveries, session_as) -> None:
    app = session_as("tenant-admin", ["acme"], start="overview")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert list(table_rows(app)) == ["acme"]
        assert "1 tenants" in screen_text(app)


def test_the_first_rows_read_a_screenful_and_name_the_others(ctx, acme_deliveries) -> None:
    with ctx.session() as session:
        system, acme, globex = first_rows(session=session, count=1)
    assert system.is_system and not acme.pending and acme.queued == len(acme_deliveries)
    assert globex.pending and (globex.slug, globex.name) == ("globex", "Globex")


async def test_the_first_paint_names_every_tenant_before_the_counts(
    ctx, acme_deliveries, monkeypatch
) -> None:
    """The first paint does not wait for the day's counts of every tenant: the rows past the
    first screenful show "…" until the full read that follows fills them."""
    release = threading.Event()
    first, full = overview_data.load_first, overview_data.load

    def slow_full(*args, **kwargs):
        assert release.wait(10)
        return full(*args, **kwargs)

    monkeypatch.setattr(overview_data, "load_first", lambda c, _count: first(c, 1))
    monkeypatch.setattr(overview_data, "load", slow_full)
    app = MailbellApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            if "globex" in table_rows(app):
                break
        shown = table_rows(app)
        assert shown["acme"][5] == str(len(acme_deliveries))
        assert shown["globex"][1:] == ["…"] * 7
        assert "(counting…)" in screen_text(app)
        release.set()
        await settle(pilot)
        assert table_rows(app)["globex"][1] == "none"
        assert "(counting…)" not in screen_text(app)
