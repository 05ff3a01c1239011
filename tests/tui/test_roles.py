"""A console session's role (`mailbell tui --as NAME`, and so every SSH session) is enforced
where the data is read and changed, not by hiding buttons: a tenant admin sees and changes its
tenants only, a viewer changes nothing, the system's pages are the system admins'."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Switch

from core.errors import Forbidden
from core.services.audit import list_entries
from core.services.tenants import get_tenant
from tests.support.console_keys import add_console_key
from tests.support.factories import emit_event, make_tenant, read_settings
from tests.tui.conftest import notices, rows, screen_text, seed, settle
from tui.data.session import enter_as
from tui.runtime import set_session_actor


async def test_a_tenant_admin_sees_only_its_tenant(ctx, actor, session_as) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        globex = get_tenant(session=session, slug="globex")
        emit_event(session, ctx.box, globex, "queue_call_lost")
    app = session_as("tenant-admin", ["acme"], start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.scope == "acme"
        assert "tenant-key (tenant-admin of acme)" in app.sub_title
        table = app.screen.query_one("#tenants", DataTable)
        slugs = [row[1] for row in rows(table)]
        assert "acme" in slugs and "globex" not in slugs
        await pilot.press("s")  # the system: refused, the scope stays
        await settle(pilot)
        assert app.scope == "acme"
        assert "not yours to open" in notices(app)
        await pilot.press("7")  # Audit
        await settle(pilot)
        audit = screen_text(app)
        assert "acme" in audit and "globex" not in audit
        assert not app.set_scope("globex") and app.scope == "acme"


async def test_a_tenant_admins_change_is_audited_under_the_keys_name(
    ctx, actor, session_as
) -> None:
    seed(ctx, actor)
    app = session_as("tenant-admin", ["acme"], start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#notify_queue_call_lost", Switch).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert read_settings(ctx, "acme").toggles["notify_queue_call_lost"] is True
    with ctx.session() as session:
        newest = list_entries(session=session, tenant="acme", limit=1)[0]
    assert (newest.actor, newest.source) == ("tenant-key", "tui")


async def test_a_viewers_save_is_refused_and_changes_nothing(ctx, actor, session_as) -> None:
    seed(ctx, actor)
    before = read_settings(ctx, "acme").toggles
    app = session_as("viewer", ["acme"], start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.scope == "acme"
        switch = app.screen.query_one("#notify_queue_call_lost", Switch)
        switch.value = not switch.value
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "read-only" in notices(app)
    assert read_settings(ctx, "acme").toggles == before


def test_the_data_layer_refuses_what_the_role_does_not_cover(ctx, actor, settings) -> None:
    """The screens hide nothing a data function would allow: called directly, each refuses."""
    from tui.data import audit, servers, slack, tenants, webhooks
    from tui.data import settings as settings_data

    seed(ctx, actor)
    add_console_key(settings, "ops-acme", "tenant-admin", ["acme"])
    add_console_key(settings, "watcher", "viewer")
    try:
        enter_as(ctx, "ops-acme", None)
        with pytest.raises(Forbidden, match="tenant globex"):
            settings_data.save(ctx, "globex", {"notify_queue_call_lost": True})
        with pytest.raises(Forbidden, match="the system's settings"):
            servers.load(ctx, None)
        with pytest.raises(Forbidden, match="system admins"):
            tenants.create(ctx, "initech", None)
        with pytest.raises(Forbidden, match="system admins"):
            slack.load(ctx, "acme")
        with pytest.raises(Forbidden):
            audit.load_entries(ctx, None)
        assert tenants.slugs(ctx) == ["acme"]

        enter_as(ctx, "watcher", None)
        assert tenants.slugs(ctx) == ["acme", "globex"]  # an unlimited viewer reads every tenant
        with pytest.raises(Forbidden, match="read-only"):
            webhooks.add(ctx, "acme", "https://hooks.acme.example/x", None, [])
        with pytest.raises(Forbidden, match="read-only"):
            servers.delete(ctx, "acme", 1)
    finally:
        set_session_actor(None)
    with ctx.session() as session:
        assert [t for t in tenants.slugs(ctx)] == ["acme", "globex"]
        assert not [e for e in list_entries(session=session) if e.actor in ("ops-acme", "watcher")]


def test_a_key_covering_no_existing_tenant_cannot_start(ctx, settings) -> None:
    from core.errors import NotFound

    with ctx.session() as session:
        make_tenant(session, slug="acme")
    add_console_key(settings, "lost", "tenant-admin", ["gone"])
    try:
        with pytest.raises(NotFound, match="covers no existing tenant"):
            enter_as(ctx, "lost", None)
        with pytest.raises(Forbidden):
            enter_as(ctx, "lost", "acme")
    finally:
        set_session_actor(None)


def test_tui_as_an_unknown_key_is_refused_before_the_screen_opens(ctx, capsys) -> None:
    from mailbell.cli import run

    assert run(["tui", "--as", "nobody"]) == 1
    assert "no SSH key is named 'nobody'" in capsys.readouterr().err
