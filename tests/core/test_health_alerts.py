"""Health notices reach the admins they concern, where they land: the capture SMTP servers and
the Slack API stand-in, through emit and the real worker (email and Slack channels).

acme's own server ("Main") is one capture server, the system's default server another: an
alert about acme's server must arrive through the system's. Each test also counts everything
that arrived, so that nothing else was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from core.channels.email.channel import EmailChannel
from core.channels.slack import SlackChannel
from core.context import Context
from core.health.alerts import send_notices
from core.health.store import CheckResult, Notice, record_results
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.pipeline.worker import Worker
from core.services.mail_servers import default_mail_server
from core.services.notifications import update_notification_settings
from core.services.slack import add_routes, get_link, link_channel
from core.vocabulary import HealthKind, HealthState
from tests.support.factories import TESTER, configure_tenant, make_mail_server, make_tenant
from tests.support.slack_api import TEAM_ID, SlackApiStandIn
from tests.support.smtp_servers import SmtpTestServer

TOKEN = "xoxb-health-alerts"
ACME_CHANNEL, ACME_OTHER, GLOBEX_CHANNEL, OPS_CHANNEL = (
    "CACME0001",
    "CACME0002",
    "CGLOB0001",
    "COPS0001",
)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)
OK, WARN, CRIT = HealthState.OK, HealthState.WARNING, HealthState.CRITICAL


@dataclass
class Platform:
    ctx: Context
    system_smtp: SmtpTestServer  # the system's default server
    acme_smtp: SmtpTestServer  # acme's own server, the subject of the alerts
    acme_id: int
    acme_server_id: int
    system_server_id: int
    slack: SlackApiStandIn


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn(token=TOKEN) as api:
        yield api


def _link(
    session: Session, channel: str, slug: str, routes: list[str], *, system_admin: bool = False
) -> None:
    link_channel(
        session=session, team_id=TEAM_ID, channel_id=channel, tenant_slug=slug, actor=TESTER
    )
    if routes:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=channel)
        assert link is not None
        add_routes(
            session=session, link=link, names=routes, actor=TESTER, system_admin=system_admin
        )


@pytest.fixture
def platform(
    ctx: Context,
    slack_api: SlackApiStandIn,
    smtp_servers: Callable[..., SmtpTestServer],
) -> Iterator[Platform]:
    """acme (recipients ops@ and noc@, its own server "Main") with two linked channels, one
    without routes; globex with a channel that mirrors everything of globex; the system's default
    server and recipients, and an ops channel (of globex) where a system admin routed
    SYSTEM_MAIL_HEALTH."""
    ctx.settings.slack_bot_token = TOKEN
    ctx.settings.slack_api_url = slack_api.url
    ctx.settings.retry_base_s = 0.05
    system_smtp, acme_smtp = smtp_servers(), smtp_servers()
    with ctx.session() as session:
        system = make_mail_server(
            session,
            ctx.box,
            None,
            smtp=system_smtp,
            name="Platform",
            mail_from="mailbell@platform.example",
        )
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=TESTER,
            changes=NotificationSettingsUpdate.parse(
                {"recipients": "root@platform.example"}, system=True
            ),
        )
        acme = make_tenant(session, slug="acme", name="Acme Corp")
        configure_tenant(
            session,
            ctx.box,
            acme,
            smtp=acme_smtp,
            toggles=(),
            server={"name": "Main", "mail_from": "alerts@acme.example"},
            recipients=("ops@acme.org", "noc@acme.org"),
        )
        make_tenant(session, slug="globex", name="Globex")
        _link(session, ACME_CHANNEL, "acme", [])
        _link(session, ACME_OTHER, "acme", ["queue_call_lost"])
        _link(session, GLOBEX_CHANNEL, "globex", ["all"])
        _link(session, OPS_CHANNEL, "globex", ["system_mail_health"], system_admin=True)
        own = default_mail_server(session=session, tenant=acme)
        assert own is not None and own.id is not None and acme.id is not None
        yield Platform(ctx, system_smtp, acme_smtp, acme.id, own.id, system.id, slack_api)


def results(
    platform: Platform,
    states: list[HealthState],
    *,
    start: datetime = T0,
    key: str | None = None,
    kind: HealthKind = HealthKind.MAIL_SERVER,
    tenant_id: int | str | None = "acme",
    subject: str = "Main",
    detail: dict[str, object] | None = None,
) -> list[Notice]:
    """Record one result per state, a minute apart from `start`; the notices they made."""
    key = key or f"mail_server:{platform.acme_server_id}"
    owner = platform.acme_id if tenant_id == "acme" else tenant_id
    assert owner is None or isinstance(owner, int)
    notices: list[Notice] = []
    with platform.ctx.session() as session:
        for n, state in enumerate(states):
            result = CheckResult(
                key,
                kind,
                owner,
                subject,
                state,
                f"{state.value}: connect refused",
                dict(detail or {"action": "start the server, then test it"}),
            )
            notices += record_results(
                session,
                [result],
                now=start + n * STEP,
                remind_s=platform.ctx.settings.health_remind_s,
            )
            session.commit()
    return notices


async def deliver(ctx: Context) -> None:
    """The real worker, with the real email and Slack channels, until nothing is due."""
    worker = Worker(
        ctx, channels={"email": EmailChannel(ctx), "slack": SlackChannel(ctx, pace_interval_s=0)}
    )
    try:
        await worker.run_once()
    finally:
        await worker.close()
    with ctx.session() as session:
        pending = session.exec(
            select(Delivery).where(col(Delivery.status).in_(["queued", "sending"]))
        ).all()
        assert pending == []


def deliveries(ctx: Context) -> list[tuple[str, str, str, int | None]]:
    with ctx.session() as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        return [(r.event, r.channel, r.status, r.mail_server_id) for r in rows]


def posts(platform: Platform) -> list[dict[str, Any]]:
    return platform.slack.posts()


def buttons(post: dict[str, Any]) -> list[tuple[str, str]]:
    blocks = post["blocks"]
    assert isinstance(blocks, list)
    return [
        (e["action_id"], e["value"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def test_an_alert_about_the_tenant_s_own_server_goes_through_the_system_server(
    platform: Platform,
) -> None:
    notices = results(platform, [CRIT, CRIT])
    assert [n.notice for n in notices] == ["alert"]
    await send_notices(platform.ctx, notices)
    await deliver(platform.ctx)

    [message] = platform.system_smtp.messages
    assert platform.acme_smtp.messages == []  # not through the broken server
    assert message.rcpt_tos == ["ops@acme.org", "noc@acme.org"]
    assert message.mail_from == "mailbell@platform.example"
    assert message.subject == "Mail health: Main is critical (Acme Corp)"
    body = message.data.decode()
    assert "start the server, then test it" in body and "critical: connect refused" in body
    assert deliveries(platform.ctx) == [
        ("MAIL_HEALTH", "email", "sent", platform.system_server_id),
        ("MAIL_HEALTH", "slack", "sent", None),
        ("MAIL_HEALTH", "slack", "sent", None),
    ]
    # every channel linked to acme, routed or not; none of globex's, nor the system's
    sent = posts(platform)
    assert sorted(p["channel"] for p in sent) == [ACME_CHANNEL, ACME_OTHER]
    key = f"mail_server:{platform.acme_server_id}"
    for post in sent:
        assert buttons(post) == [("health_check_now", key), ("health_mute", key)]
        assert str(post["text"]).startswith("[acme] Critical: Main")
        header = post["blocks"][0]["text"]["text"]
        assert header == ":red_circle: Critical: Main"
        status = post["blocks"][1]["text"]["text"]
        assert status.startswith("*✗ critical* (was ? unknown) · since <!date^")


async def test_a_recovery_reads_as_one_and_goes_the_usual_way(platform: Platform) -> None:
    alert = results(platform, [CRIT, CRIT])
    recovery = results(platform, [OK, OK], start=T0 + 10 * STEP)
    assert [n.notice for n in alert + recovery] == ["alert", "recovery"]
    await send_notices(platform.ctx, recovery)
    await deliver(platform.ctx)

    assert platform.system_smtp.messages == []
    [message] = platform.acme_smtp.messages  # the server works again: its own path
    assert message.subject == "Mail health: Main is ok again (Acme Corp)"
    assert message.mail_from == "alerts@acme.example"
    text = message.data.decode()
    assert "is working again" in text and "Nothing more to do" in text
    sent = posts(platform)
    assert sorted(p["channel"] for p in sent) == [ACME_CHANNEL, ACME_OTHER]
    for post in sent:
        assert buttons(post) == []  # nothing to check or mute
        assert str(post["text"]) == "[acme] Recovered: Main is ok again"


async def test_a_reminder_after_the_remind_interval_says_it_still_lasts(platform: Platform) -> None:
    remind = timedelta(seconds=platform.ctx.settings.health_remind_s)
    alert = results(
        platform,
        [WARN, WARN],
        key="email_account:7",
        kind=HealthKind.EMAIL_ACCOUNT,
        subject="help@acme.org",
    )
    early = results(
        platform,
        [WARN],
        start=T0 + STEP + remind - STEP,
        key="email_account:7",
        kind=HealthKind.EMAIL_ACCOUNT,
        subject="help@acme.org",
    )
    due = results(
        platform,
        [WARN],
        start=T0 + STEP + remind,
        key="email_account:7",
        kind=HealthKind.EMAIL_ACCOUNT,
        subject="help@acme.org",
    )
    assert [n.notice for n in alert] == ["alert"] and early == []
    assert [n.notice for n in due] == ["reminder"]
    await send_notices(platform.ctx, alert + due)
    await deliver(platform.ctx)

    # an account's trouble is not the mail path's: the tenant's own server carries both
    assert platform.system_smtp.messages == []
    # (the worker sends due deliveries side by side: in either order)
    by_subject = {m.subject: m.data.decode() for m in platform.acme_smtp.messages}
    assert len(platform.acme_smtp.messages) == 2
    assert set(by_subject) == {
        "Mail health: help@acme.org is warning (Acme Corp)",
        "Mail health: help@acme.org is still warning (Acme Corp)",
    }
    reminder = by_subject["Mail health: help@acme.org is still warning (Acme Corp)"]
    assert "This reminder repeats until it is fixed" in reminder
    sent = posts(platform)
    assert len(sent) == 4
    assert sorted(str(p["text"]).split(" — ")[0] for p in sent if p["channel"] == ACME_CHANNEL) == [
        "[acme] Still warning: help@acme.org",
        "[acme] Warning: help@acme.org",
    ]


async def test_the_toggle_off_silences_the_event_everywhere(platform: Platform) -> None:
    with platform.ctx.session() as session:
        acme = session.get(Tenant, platform.acme_id)
        update_notification_settings(
            session=session,
            box=platform.ctx.box,
            tenant=acme,
            actor=TESTER,
            changes=NotificationSettingsUpdate.parse({"notify_mail_health": False}, system=False),
        )
    await send_notices(platform.ctx, results(platform, [CRIT, CRIT]))
    await deliver(platform.ctx)

    assert deliveries(platform.ctx) == [
        ("MAIL_HEALTH", "email", "suppressed", platform.system_server_id)
    ]
    assert platform.system_smtp.messages == [] and platform.acme_smtp.messages == []
    assert posts(platform) == []


async def test_the_same_notices_sent_again_are_sent_once(platform: Platform) -> None:
    notices = results(platform, [CRIT, CRIT])
    await send_notices(platform.ctx, notices)
    await send_notices(platform.ctx, notices)  # a retry after a crash, say
    await deliver(platform.ctx)
    await send_notices(platform.ctx, notices)
    await deliver(platform.ctx)

    with platform.ctx.session() as session:
        assert len(session.exec(select(EventRecord)).all()) == 1
    assert len(platform.system_smtp.messages) == 1 and platform.acme_smtp.messages == []
    assert len(posts(platform)) == 2


async def test_no_recipients_no_email_and_slack_still_hears(platform: Platform) -> None:
    with platform.ctx.session() as session:
        acme = session.get(Tenant, platform.acme_id)
        update_notification_settings(
            session=session,
            box=platform.ctx.box,
            tenant=acme,
            actor=TESTER,
            changes=NotificationSettingsUpdate.parse({"recipients": ""}, system=False),
        )
    await send_notices(platform.ctx, results(platform, [CRIT, CRIT]))
    await deliver(platform.ctx)

    # no failed email either: it would count against the server's own deliveries
    assert deliveries(platform.ctx) == [("MAIL_HEALTH", "slack", "sent", None)] * 2
    assert platform.system_smtp.messages == [] and platform.acme_smtp.messages == []
    assert sorted(p["channel"] for p in posts(platform)) == [ACME_CHANNEL, ACME_OTHER]


async def test_a_system_subject_goes_to_the_system_recipients_and_routed_channels(
    platform: Platform,
) -> None:
    notices = results(
        platform,
        [CRIT, CRIT],
        key="slack:token",
        kind=HealthKind.SLACK,
        tenant_id=None,
        subject="Slack bot token",
        detail={"action": "install the app again"},
    )
    await send_notices(platform.ctx, notices)
    await deliver(platform.ctx)

    [message] = platform.system_smtp.messages
    assert message.rcpt_tos == ["root@platform.example"]
    assert message.subject == "System mail health: Slack bot token is critical"
    assert platform.acme_smtp.messages == []
    # only where a system admin routed it: not globex's `all`, not acme's unrouted channel
    [post] = posts(platform)
    assert post["channel"] == OPS_CHANNEL
    assert buttons(post) == [("health_check_now", "slack:token"), ("health_mute", "slack:token")]
    assert str(post["text"]).startswith("[system] Critical: Slack bot token")


async def test_a_notice_for_a_deleted_tenant_sends_nothing_and_the_others_still_go(
    platform: Platform,
) -> None:
    gone = Notice(
        "alert",
        "backlog:tenant:999",
        HealthKind.BACKLOG,
        999,
        "queue",
        CRIT,
        OK,
        "stuck",
        T0,
        at=T0,
    )
    await send_notices(platform.ctx, [gone, *results(platform, [CRIT, CRIT])])
    await deliver(platform.ctx)

    assert len(platform.system_smtp.messages) == 1 and len(posts(platform)) == 2
