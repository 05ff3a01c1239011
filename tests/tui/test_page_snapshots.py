"""Every page at 120x40, and the pages tests/tui/test_snapshots.py leaves out at 80x24
(Slack, Webhooks, Health, and the Overview as a tenant admin sees it). SVGs in __snapshots__;
look at each after `--snapshot-update`."""

from __future__ import annotations

import pytest

from tests.tui.test_snapshots import _fixed_times, data, steps  # noqa: F401  (fixtures)
from tui.app import PAGE_SCREENS, MailbellApp

PAGES = [mode for mode in PAGE_SCREENS if mode != "captured"]
TENANT_PAGES = {"servers", "settings", "templates", "accounts", "webhooks"}


@pytest.fixture(autouse=True)
def _fixed_ages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.data.overview.age_text", lambda s: "—" if s is None else "3 min")


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize("page", PAGES)
def test_page_at_120x40(snap_compare, ctx, page: str) -> None:
    scope = "acme" if page in TENANT_PAGES else None
    app = MailbellApp(ctx, tenant_slug=scope, start=page)
    assert snap_compare(app, terminal_size=(120, 40), run_before=steps())


@pytest.mark.usefixtures("data")
@pytest.mark.parametrize("page", ["slack", "webhooks", "health"])
def test_page_at_80x24(snap_compare, ctx, page: str) -> None:
    scope = "acme" if page in TENANT_PAGES else None
    app = MailbellApp(ctx, tenant_slug=scope, start=page)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())


@pytest.mark.usefixtures("data")
def test_overview_of_a_tenant_admin_at_80x24(snap_compare, session_as) -> None:
    app = session_as("tenant-admin", ["acme"], name="alice", start="overview")
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())
