"""The Slack page: link a channel, choose what it mirrors, manage Slack admins."""

from __future__ import annotations

from textual.widgets import DataTable, Input, SelectionList

from core.models.mail import EmailAccountCreate
from core.services.slack import get_link, list_routes
from core.services.slack_admins import list_admins
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, seed, settle


async def test_link_route_and_admins(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="slack")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#team", Input).value = "T0TEAM"
        dialog.query_one("#channel", Input).value = "C0ALERTS"
        assert dialog.query_one("#tenant", Input).value == "acme"
        await pilot.press("ctrl+s")
        await settle(pilot)
        channels = rows(app.screen.query_one("#channels", DataTable))
        assert channels[0][:3] == ["C0ALERTS", "T0TEAM", "acme"]
        assert channels[0][3] == "nothing routed"

        await pilot.press("enter")
        await settle(pilot)
        routes = app.screen.query_one("#routes", SelectionList)
        routes.select("QUEUE_SLA")
        routes.select("QUEUE_CALL_LOST")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert rows(app.screen.query_one("#channels", DataTable))[0][3] == (
            "QUEUE_SLA, QUEUE_CALL_LOST"
        )
        with ctx.session() as session:
            link = get_link(session=session, team_id="T0TEAM", channel_id="C0ALERTS")
            assert link is not None
            assert list_routes(session=session, link=link) == ["QUEUE_SLA", "QUEUE_CALL_LOST"]

        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one("#user", Input).value = "not-a-user"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "AdminDialog"  # refused: the rule is shown
        app.screen.query_one("#user", Input).value = "U0ALICE"
        await pilot.press("ctrl+s")
        await settle(pilot)
        admins = app.screen.query_one("#admins", DataTable)
        assert rows(admins)[0][0] == "U0ALICE"
        admins.focus()
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        assert list_admins(session=session, tenant=acme) == []


async def test_inbox_routes_are_listed_and_can_be_stopped(ctx, actor, make_app) -> None:
    from core.services.accounts import create_email_account
    from core.services.slack import link_channel
    from core.services.slack_inbox import add_inbox_route, list_inbox_routes

    seeded = seed(ctx, actor)
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        create_email_account(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=EmailAccountCreate.from_fields(
                {
                    "email": "support@acme.example",
                    "display_name": "Support",
                    "mail_server_id": seeded.acme_server,
                }
            ),
            actor=actor,
        )
        link = link_channel(
            session=session,
            team_id="T0TEAM",
            channel_id="C0ALERTS",
            tenant_slug="acme",
            actor=actor,
        )
        for pattern in ("*@carrier.example", None):
            add_inbox_route(
                session=session,
                link=link,
                account_ref="support@acme.example",
                from_pattern=pattern,
                actor=actor,
            )
    app = make_app(tenant_slug="acme", start="slack")
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        inbox = app.screen.query_one("#inbox", DataTable)
        assert rows(inbox) == [
            ["C0ALERTS", "support@acme.example", "every sender", "acme"],
            ["C0ALERTS", "support@acme.example", "from *@carrier.example", "acme"],
        ]
        inbox.focus()
        await pilot.press("down", "d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert rows(app.screen.query_one("#inbox", DataTable)) == [
            ["C0ALERTS", "support@acme.example", "every sender", "acme"]
        ]
    with ctx.session() as session:
        [left] = list_inbox_routes(session=session)
        assert left.from_pattern == ""
