"""The first screen lists tenants with the server that sends their mail."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from core.services.mail_servers import create_mail_server
from core.services.notifications import update_system_settings
from core.services.tenants import create_tenant
from tui.app import MailbellApp


async def test_lists_tenants_and_effective_servers(ctx, actor) -> None:
    with ctx.session() as session:
        create_tenant(session=session, slug="acme", actor=actor)
        globex = create_tenant(session=session, slug="globex", actor=actor)
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data={"name": "shared", "host": "smtp.sys.org", "auth": "DISABLE"},
        )
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=globex,
            actor=actor,
            data={"name": "own", "host": "smtp.globex.org", "auth": "DISABLE"},
        )
    app = MailbellApp(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#tenants", DataTable)
        rows = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["acme"][3] == "not configured"
        assert rows["globex"][3] == "tenant" and "smtp.globex.org" in rows["globex"][2]
        summary = str(app.screen.query_one("#system-summary", Static).render())
        assert "shared" in summary and "applied to all tenants" not in summary

        with ctx.session() as session:
            update_system_settings(
                session=session, box=ctx.box, actor=actor, changes={"apply_to_all_tenants": True}
            )
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        rows = {table.get_row_at(i)[0]: table.get_row_at(i) for i in range(table.row_count)}
        assert rows["acme"][3] == "system"


def test_unknown_tenant_exits_before_the_screen(cli) -> None:
    result = cli("tui", "--tenant", "nope")
    assert result.code == 1
    assert "tenant 'nope' does not exist" in result.err
