"""The audit log shows who changed what from where, and from what to what (secrets as "changed")."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.conftest import PASSWORD, rows, screen_text, seed, settle


async def test_changes_made_in_the_tui_are_in_the_audit_log(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#password").value = "a-new-Secret-1"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        table = rows(app.screen.query_one("#audit", DataTable))
        newest = table[0]
        assert newest[1:5] == ["admin", "tui", "acme", "mail_server.update"]
        assert "password" in newest[6]  # the field's name, never its value
        assert {row[2] for row in table} == {"tui", "cli"}
        assert all(row[3] == "acme" for row in table)  # the tenant's own trail
        text = screen_text(app)
        assert "a-new-Secret-1" not in text and PASSWORD not in text


async def test_enter_opens_the_highlighted_entry_into_before_and_after(
    ctx, actor, make_app
) -> None:
    from textual.widgets import Static

    from core.models.mail import MailServerUpdate
    from core.services.mail_servers import update_mail_server
    from core.services.tenants import get_tenant

    seeded = seed(ctx, actor)
    with ctx.session() as session:
        update_mail_server(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            server_id=seeded.acme_server,
            changes=MailServerUpdate.from_fields(
                {"host": "smtp2.acme.example", "password": "Brand-New-Secret-9"}
            ),
            actor=actor,
        )
    app = make_app(start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        newest = rows(app.screen.query_one("#audit", DataTable))[0]
        assert newest[4].startswith("mail_server.up") and newest[6].startswith("host: smtp.")
        detail = app.screen.query_one("#audit-detail", Static)
        assert "Fields changed: host, password" in str(detail.render())
        await pilot.press("enter")
        await settle(pilot)
        lines = str(detail.render()).splitlines()
        assert lines[1:] == [
            "host      smtp.acme.example → smtp2.acme.example",
            "password  changed",
        ]
        await pilot.press("enter")
        await settle(pilot)
        assert "Fields changed: host, password" in str(detail.render())
        text = screen_text(app)
        assert "Brand-New-Secret-9" not in text and PASSWORD not in text
