"""Tables fit the screen: at 80 columns every header is whole, long values end with "…" and the
detail shows them whole; on a wide screen the same values are not cut."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual.widgets import DataTable, Static

from core.models.delivery import Delivery
from core.models.mail import EmailAccount, EmailAccountCreate
from core.services.tenants import get_tenant
from core.vocabulary import HealthKind, HealthState
from tests.support.factories import make_mail_server, make_webhook
from tests.tui.conftest import screen_text, seed, settle
from tests.tui.test_accounts import add_account
from tests.tui.test_deliveries import emit_for
from tests.tui.test_health_page import put
from tui.widgets.tables import Fit, FitTable, plan_widths

# 300 characters of words, so a cut one is told apart from a whole one.
LONG_ERROR = " ".join(f"w{i:03d}" for i in range(60))[:299] + "!"
LONG_TARGET = "someone.with.a.very.long.mailbox.name@notifications.subsidiary.acme.example"
# Long for 80 columns, short enough for 160.
WIDE_TARGET = "someone.with.a.long.name@acme.example"
LONG_ACCOUNT = "customer-support-escalations@acme-corporation.example"


def flat(text: str) -> str:
    """Text without white space: a value wrapped over lines in a detail still reads whole."""
    return "".join(text.split())


def header_fits(table: DataTable[object]) -> None:
    widths = [column.get_render_width(table) for column in table.columns.values()]
    assert sum(widths) <= table.size.width, (table.id, widths, table.size.width)
    for column in table.columns.values():
        assert column.width >= cell_len(column.label.plain), (table.id, column.label.plain)


def long_delivery(ctx, target: str = LONG_TARGET, error: str = LONG_ERROR) -> int:
    [delivery_id] = emit_for(ctx, "globex", "VOICEMAIL_RECEIVED")  # globex: fails, no server
    with ctx.session() as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.target = target
        delivery.last_error = error
        session.add(delivery)
        session.commit()
    return delivery_id


def rendered(widget: Static) -> str:
    """What a Static shows at its own width, all of it (the screen may show only a part)."""
    console = Console(width=widget.size.width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def flat_lines(text: str) -> str:
    """A wrapped value joined back (the wrap cuts where the width ends, not at a space)."""
    return "".join(line.rstrip() for line in text.splitlines())


def table_line(app, marker: str) -> str:
    return next(line for line in screen_text(app).splitlines() if marker in line)


def test_the_rule_shrinks_the_lowest_priority_first_and_never_below_its_floor() -> None:
    fits = [Fit(shrink=False), Fit(priority=2), Fit(priority=0)]
    # fits: content decides
    assert plan_widths([5, 10, 20], [5, 4, 6], fits, room=60, padding=2) == [5, 10, 20]
    # 8 cells too many: the priority-0 column gives them all
    assert plan_widths([5, 10, 20], [5, 4, 6], fits, room=35 + 6 - 8, padding=2) == [5, 10, 12]
    # more than it can give: it stops at its floor, the next one gives the rest
    assert plan_widths([5, 10, 20], [5, 4, 6], fits, room=20 + 6, padding=2) == [5, 9, 6]
    # a column that may not shrink keeps its width even when nothing else can give
    assert plan_widths([5, 4, 6], [5, 4, 6], fits, room=10, padding=2)[0] == 5


async def test_deliveries_at_80_cut_long_values_with_an_ellipsis_and_the_detail_shows_them(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    emit_for(ctx, "acme", "QUEUE_CALL_LOST")  # off for acme: "suppressed", the widest status
    delivery_id = long_delivery(ctx)
    app = make_app(start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deliveries", FitTable)
        header_fits(table)
        header = screen_text(app)
        for label in ("#", "Time (UTC)", "Status", "Event", "Tenant", "Att", "Ch", "Target"):
            assert label in header
        line = table_line(app, "w000")
        assert "…" in line and "w059" not in line  # the error is cut, visibly
        assert LONG_TARGET not in line and "someone" in line
        assert str(delivery_id) in line and "failed" in line  # what a row is read by stays
        await pilot.press("enter")
        await settle(pilot)
        detail = flat(rendered(app.screen.query_one("#delivery-facts", Static)))
        assert flat(LONG_TARGET) in detail
        assert flat(LONG_ERROR) in detail


async def test_deliveries_at_160_show_values_that_fit_whole(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    long_delivery(ctx, WIDE_TARGET, "550 mailbox unavailable: no such user here")
    app = make_app(start="deliveries")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        header_fits(app.screen.query_one("#deliveries", FitTable))
        line = table_line(app, "someone")
        assert WIDE_TARGET in line
        assert "550 mailbox unavailable: no such user here" in line
        assert "…" not in line


async def test_the_table_refits_when_the_terminal_is_resized(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    long_delivery(ctx, WIDE_TARGET, "550 mailbox unavailable: no such user here")
    app = make_app(start="deliveries")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deliveries", FitTable)
        wide = table.columns[next(iter(table.columns))].width
        assert WIDE_TARGET in table_line(app, "someone")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        header_fits(table)
        assert "…" in table_line(app, "someone")
        assert table.columns[next(iter(table.columns))].width == wide  # the id is never cut


@pytest.mark.parametrize(
    ("page", "slug", "tables"),
    [
        ("servers", None, ["#servers"]),
        ("servers", "acme", ["#servers"]),
        ("deliveries", None, ["#deliveries"]),
        ("audit", None, ["#audit"]),
        ("accounts", "acme", ["#accounts"]),
        ("webhooks", None, ["#webhooks"]),
        ("slack", None, ["#channels", "#inbox", "#admins"]),
        ("templates", "acme", ["#templates"]),
        ("health", None, ["#health"]),
    ],
)
async def test_every_header_fits_at_80_columns(ctx, actor, make_app, page, slug, tables) -> None:
    seed(ctx, actor)
    long_delivery(ctx)
    app = make_app(tenant_slug=slug, start=page)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        for selector in tables:
            table = app.screen.query_one(selector, FitTable)
            header_fits(table)
            for column in table.columns.values():
                assert column.label.plain in text


async def test_the_audit_cuts_a_long_target_and_shows_the_highlighted_entry_whole(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        make_mail_server(session, ctx.box, None, actor=actor, name="backup relay")
    app = make_app(start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header_fits(app.screen.query_one("#audit", FitTable))
        # the newest entry: the server's creation, its action and fields cut in the table
        row = table_line(app, "mail_server.")
        assert "…" in row and "mail_server.create" not in row and "mail_from" not in row
        detail = rendered(app.screen.query_one("#audit-detail", Static))
        assert "mail_server.create" in detail
        assert "Fields changed: auth, host, mail_from" in detail


async def test_a_webhook_url_cut_in_the_table_is_shown_whole_under_it(ctx, actor, make_app) -> None:
    url = "https://hooks.example.com/services/T0001/B0002/a-very-long-token-that-goes-on-and-on"
    with ctx.session() as session:
        make_webhook(session, ctx.box, None, url)
    app = make_app(start="webhooks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header_fits(app.screen.query_one("#webhooks", FitTable))
        assert "…" in table_line(app, "https://hooks")
        assert url not in table_line(app, "https://hooks")
        detail = app.screen.query_one("#webhooks-detail", Static)
        assert detail.display
        assert "URL:" in rendered(detail) and url in flat_lines(rendered(detail))
    app = make_app(start="webhooks")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert url in table_line(app, "https://hooks")  # fits: whole, and nothing under it
        assert not app.screen.query_one("#webhooks-detail", Static).display


async def test_an_account_error_cut_in_the_table_is_shown_whole_under_it(
    ctx, actor, make_app
) -> None:
    seeded = seed(ctx, actor)
    account_id = add_account(ctx, actor, seeded.acme_server)
    with ctx.session() as session:
        account = session.get(EmailAccount, account_id)
        account.last_sync_error = LONG_ERROR
        session.add(account)
        session.commit()
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header_fits(app.screen.query_one("#accounts", FitTable))
        row = table_line(app, "support@acme.example")
        assert "…" in row and "w059" not in row
        detail = app.screen.query_one("#accounts-detail", Static)
        assert detail.display
        assert flat(LONG_ERROR) in flat(rendered(detail))


def slack_routes(ctx, actor) -> None:
    """acme's channel mirroring four events, and an inbox route of a long address."""
    from core.services.accounts import create_email_account
    from core.services.slack import add_routes, link_channel
    from core.services.slack_inbox import add_inbox_route

    seeded = seed(ctx, actor)
    fields = {
        "email": LONG_ACCOUNT,
        "display_name": "Support",
        "mail_server_id": seeded.acme_server,
    }
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        data = EmailAccountCreate.from_fields(fields)
        create_email_account(session=session, box=ctx.box, tenant=acme, data=data, actor=actor)
        link = link_channel(
            session=session,
            team_id="T0TEAM",
            channel_id="C0ALERTS",
            tenant_slug="acme",
            actor=actor,
        )
        events = ["QUEUE_SLA", "QUEUE_CALL_LOST", "VOICEMAIL_RECEIVED", "QUEUE_CALLBACK"]
        add_routes(session=session, link=link, names=events, actor=actor, system_admin=True)
        add_inbox_route(
            session=session, link=link, account_ref=LONG_ACCOUNT, from_pattern=None, actor=actor
        )


async def test_slack_cuts_long_values_and_shows_the_focused_tables_row_whole(
    ctx, actor, make_app
) -> None:
    slack_routes(ctx, actor)
    mirrors = "QUEUE_SLA, QUEUE_CALL_LOST, VOICEMAIL_RECEIVED, QUEUE_CALLBACK"
    app = make_app(tenant_slug="acme", start="slack")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for selector in ("#channels", "#inbox", "#admins"):
            header_fits(app.screen.query_one(selector, FitTable))
        line = table_line(app, "QUEUE_SLA")
        assert "…" in line and mirrors not in line
        detail = app.screen.query_one("#slack-detail", Static)
        assert detail.display and f"Mirrors: {mirrors}" in flat_lines(rendered(detail))
        app.screen.query_one("#inbox", FitTable).focus()  # the detail follows the focus
        await settle(pilot)
        assert "…" in table_line(app, "customer-support")
        shown = flat_lines(rendered(detail))
        assert f"Account: {LONG_ACCOUNT}" in shown and "Mirrors" not in shown
    app = make_app(tenant_slug="acme", start="slack")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert mirrors in table_line(app, "QUEUE_SLA")  # fits: whole, and nothing under it
        assert not app.screen.query_one("#slack-detail", Static).display


async def test_health_cuts_a_long_subject_and_reason_and_shows_them_whole_under_the_table(
    ctx, actor, make_app
) -> None:
    key = "email_account:9"
    put(ctx, key, HealthKind.EMAIL_ACCOUNT, None, LONG_ACCOUNT, HealthState.CRITICAL, LONG_ERROR)
    app = make_app(start="health")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header_fits(app.screen.query_one("#health", FitTable))
        line = table_line(app, "w000")  # the banner names the subject, not the reason
        assert "✗ critical" in line and "account" in line and "just now" in line
        assert "…" in line and LONG_ACCOUNT not in line and "w059" not in line
        selected = flat(rendered(app.screen.query_one("#health-selected", Static)))
        assert flat(LONG_ACCOUNT) in selected and flat(LONG_ERROR) in selected
    app = make_app(start="health")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert LONG_ACCOUNT in table_line(app, "w000")
