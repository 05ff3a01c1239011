"""The Health page (H) and the critical banner: subjects with glyphs, worst first; the banner on
every page while something is critical; Enter for a subject's history and its actions (mute,
test now against a real SMTP sink, re-authorize, sync now)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from textual.widgets import DataTable, Static

from core.health.store import get_subject
from core.models._common import utcnow
from core.services.audit import list_entries
from core.vocabulary import HealthKind, HealthState
from tests.support.factories import make_mail_server, make_tenant
from tests.support.health import put_state
from tests.tui.conftest import rows, screen_text, settle

CONNECT_REFUSED = "connect: [Errno 111] Connection refused (smtp.acme.example:587)"


def put(
    ctx: Any,
    key: str,
    kind: HealthKind,
    tenant_id: int | None,
    subject: str,
    state: HealthState,
    reason: str = "",
    *,
    detail: dict[str, Any] | None = None,
    at: Any = None,
) -> None:
    """The subject in `state`, the way the checks get it there: two agreeing results."""
    with ctx.session() as session:
        put_state(
            session, key, kind, tenant_id, subject, state, reason=reason, detail=detail, now=at
        )


def seed_states(ctx: Any, actor: Any) -> dict[str, Any]:
    """acme's relay critical (since 3 h), the system's server warning, the database ok."""
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", actor=actor)
        relay = make_mail_server(session, ctx.box, acme, actor=actor, name="acme relay")
        shared = make_mail_server(session, ctx.box, None, actor=actor, name="shared")
        acme_id = acme.id
    three_hours_ago = utcnow() - timedelta(hours=3)
    relay_key, shared_key = f"mail_server:{relay.id}", f"mail_server:{shared.id}"
    put(ctx, "service:database", HealthKind.SERVICE, None, "database", HealthState.OK, "writes ok")
    put(
        ctx,
        shared_key,
        HealthKind.MAIL_SERVER,
        None,
        "shared",
        HealthState.WARNING,
        "certificate expires in 5 days",
        detail={"certificate_days": 5, "server_id": shared.id},
    )
    put(
        ctx,
        relay_key,
        HealthKind.MAIL_SERVER,
        acme_id,
        "acme relay",
        HealthState.CRITICAL,
        CONNECT_REFUSED,
        detail={"server_id": relay.id},
        at=three_hours_ago,
    )
    return {"acme_id": acme_id, "relay": relay_key, "shared": shared_key, "relay_id": relay.id}


def banner(app: Any) -> Static:
    return app.screen.query_one("#health-banner", Static)


def health_rows(app: Any) -> list[list[str]]:
    return rows(app.screen.query_one("#health", DataTable))


async def test_the_page_lists_every_subject_worst_first_with_glyphs(ctx, actor, make_app) -> None:
    seed_states(ctx, actor)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot)
        assert app.current_mode == "health"
        shown = health_rows(app)
        assert [row[:4] for row in shown] == [
            ["✗ critical", "server", "acme", "acme relay"],
            ["! warning", "server", "system", "shared"],
            ["✓ ok", "service", "system", "database"],
        ]
        assert shown[0][4].startswith("connect: [Err") and shown[0][5] == "3 h ago"
        note = str(app.screen.query_one("#health-note", Static).render())
        assert note.startswith("✗ 1 critical · ! 1 warning · ✓ 1 ok")
        # The reason in full under the table, for the selected row.
        text = screen_text(app)
        assert CONNECT_REFUSED in text and "tenant acme" in text
        # Colours come from the stylesheet (app.tcss), one per state, besides the glyph.
        table = app.screen.query_one("#health", DataTable)
        styles = [table.get_row_at(i)[0].style for i in range(3)]
        assert len({str(style.color) for style in styles}) == 3
        assert styles[0].bold and not styles[2].bold
        await pilot.press("ctrl+t")  # another theme: the rows are painted again
        await settle(pilot)
        assert health_rows(app)[0][0] == "✗ critical"

    app = make_app(start="health")
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        first = health_rows(app)[0]
        assert first[1] == "mail server" and first[4] == CONNECT_REFUSED
        assert first[5].startswith("3 h ago · ")


async def test_the_banner_shows_while_something_is_critical(ctx, actor, make_app) -> None:
    with ctx.session() as session:
        acme_id = make_tenant(session, slug="acme", actor=actor).id
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not banner(app).display

        put(ctx, "slack:link:1", HealthKind.SLACK, acme_id, "#C01", HealthState.CRITICAL, "gone")
        put(ctx, "mail_server:9", HealthKind.MAIL_SERVER, None, "shared", HealthState.CRITICAL)
        app.refresh_health()  # what the app's 30 s timer runs
        await settle(pilot)
        assert banner(app).display
        line = str(banner(app).render())
        assert line == "✗ 2 critical: shared (mail server), #C01 (Slack) — press H for health"
        assert app.screen.query_one("#health-banner").region.height == 1

        await pilot.press("3")  # every page has it
        await settle(pilot)
        assert banner(app).display and "2 critical" in str(banner(app).render())

        put(ctx, "slack:link:1", HealthKind.SLACK, acme_id, "#C01", HealthState.OK)
        app.refresh_health()
        await settle(pilot)
        assert str(banner(app).render()).startswith("✗ 1 critical: shared (mail server) —")

        put(ctx, "mail_server:9", HealthKind.MAIL_SERVER, None, "shared", HealthState.OK)
        app.refresh_health()
        await settle(pilot)
        assert not banner(app).display

        # Clicking the banner opens the page.
        put(ctx, "mail_server:9", HealthKind.MAIL_SERVER, None, "shared", HealthState.CRITICAL)
        app.refresh_health()
        await settle(pilot)
        await pilot.click("#health-banner")
        await settle(pilot)
        assert app.current_mode == "health"


async def test_enter_shows_the_history_and_mute_is_audited(ctx, actor, make_app) -> None:
    seeded = seed_states(ctx, actor)
    # Critical 3 h ago, a warning 2 h ago, critical again now: three changes in its history.
    put(
        ctx,
        seeded["relay"],
        HealthKind.MAIL_SERVER,
        seeded["acme_id"],
        "acme relay",
        HealthState.WARNING,
        "slow greeting",
        at=utcnow() - timedelta(hours=2),
    )
    put(
        ctx,
        seeded["relay"],
        HealthKind.MAIL_SERVER,
        seeded["acme_id"],
        "acme relay",
        HealthState.CRITICAL,
        CONNECT_REFUSED,
    )
    app = make_app(start="health")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "HealthDetailScreen"
        history = rows(app.screen.query_one("#health-history", DataTable))
        assert [row[1:] for row in history] == [
            ["✗ critical", CONNECT_REFUSED],
            ["! warning", "slow greeting"],
            ["✗ critical", CONNECT_REFUSED],
        ]
        text = screen_text(app)
        assert "t test now" in text and "m mute alerts 24 h" in text
        assert "re-authorize" not in text  # not an OAuth revocation

        await pilot.press("m")
        await settle(pilot)
        with ctx.session() as session:
            row = get_subject(session, seeded["relay"])
            assert row is not None and row.muted_until is not None
            left = row.muted_until - utcnow()
            assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)
            (entry,) = [e for e in list_entries(session=session) if e.action == "health.mute"]
        assert entry.source == "tui" and entry.target == seeded["relay"]
        assert entry.tenant == "acme" and entry.fields == ["hours:24"]
        assert "muted until" in screen_text(app)

        await pilot.press("escape")
        await settle(pilot)
        assert health_rows(app)[0][3] == "acme relay ⊘"  # muted, still critical
        assert health_rows(app)[0][0] == "✗ critical"

        await pilot.press("enter", "u")
        await settle(pilot)
        with ctx.session() as session:
            row = get_subject(session, seeded["relay"])
            assert row is not None and row.muted_until is None
            actions = [e.action for e in list_entries(session=session)]
        assert actions[:2] == ["health.unmute", "health.mute"]


async def test_check_now_and_test_now_reach_the_mail_server(
    ctx, actor, make_app, smtp_server
) -> None:
    """A real pass: the tenant's server is an aiosmtpd sink; nothing is sent to it."""
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", actor=actor)
        relay = make_mail_server(session, ctx.box, acme, smtp=smtp_server, name="acme relay")
    key = f"mail_server:{relay.id}"
    app = make_app(start="health")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert health_rows(app) == []  # empty: the line under it says why and what to do
        assert "Nothing checked yet" in screen_text(app) and "Press c" in screen_text(app)

        await pilot.press("c")
        await settle(pilot)
        with ctx.session() as session:
            row = get_subject(session, key)
            assert row is not None and row.checked_at is not None
            assert row.state == HealthState.UNKNOWN and row.candidate_state == HealthState.OK
        assert smtp_server.connections >= 1 and smtp_server.messages == []
        by_subject = {r[3]: r for r in health_rows(app)}
        assert by_subject["acme relay"][0] == "? unknown"  # one result is not a state yet
        assert by_subject["database"][0] == "? unknown"  # the service checks ran too

        # Its detail's "test now" checks acme's subjects: the second agreeing result.
        table = app.screen.query_one("#health", DataTable)
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("enter")
        await settle(pilot)
        before = smtp_server.connections
        await pilot.press("t")
        await settle(pilot)
        with ctx.session() as session:
            row = get_subject(session, key)
            assert row is not None and row.state == HealthState.OK
        assert smtp_server.connections > before and smtp_server.messages == []
        assert "✓ ok" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert {r[3]: r for r in health_rows(app)}["acme relay"][0] == "✓ ok"


async def test_actions_fit_the_subject(ctx, actor, make_app) -> None:
    """A revoked OAuth server offers re-authorize (here and as a shell command); an email
    account offers sync now; neither offers the other's action."""
    seeded = seed_states(ctx, actor)
    revoked = (
        "authorization revoked (invalid_grant): re-authorize with "
        f"`mailbell oauth authorize --server {seeded['relay_id']}`"
    )
    put(
        ctx,
        seeded["relay"],
        HealthKind.MAIL_SERVER,
        seeded["acme_id"],
        "acme relay",
        HealthState.CRITICAL,
        revoked,
        detail={"server_id": seeded["relay_id"], "action": "re-authorize"},
    )
    put(
        ctx,
        "email_account:77",
        HealthKind.EMAIL_ACCOUNT,
        seeded["acme_id"],
        "support@acme.example",
        HealthState.WARNING,
        "3 syncs in a row failed",
    )
    app = make_app(start="health")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        command = f"mailbell oauth authorize --server {seeded['relay_id']} --tenant acme"
        assert command in screen_text(app)
        assert detail.check_action("authorize", ()) and not detail.check_action("sync", ())
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "OAuthScreen"
        assert app.screen.server_id == seeded["relay_id"] and app.screen.slug == "acme"
        await pilot.press("escape", "escape")
        await settle(pilot)

        table = app.screen.query_one("#health", DataTable)
        table.move_cursor(row=table.get_row_index("email_account:77"))
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert detail.check_action("sync", ()) and not detail.check_action("authorize", ())
        assert "s sync now" in screen_text(app)
        await pilot.press("s")  # the account is gone: the sync says so, nothing breaks
        await settle(pilot)
        assert type(app.screen).__name__ == "HealthDetailScreen"
        assert not detail.busy
