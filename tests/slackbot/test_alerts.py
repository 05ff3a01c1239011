"""Routed events become Slack deliveries in the outbox and arrive as Block Kit messages."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from sqlmodel import select

from core.catalog import sample
from core.channels.base import ChannelResult
from core.channels.slack import SlackChannel
from core.models.delivery import Delivery
from core.pipeline.worker import Worker
from core.services.audit import Actor
from core.services.slack import add_routes, get_link
from core.services.tenants import get_tenant
from tests.slackbot.conftest import ACME_CHANNEL, GLOBEX_CHANNEL
from tests.support.factories import ACME_SERVER, configure_tenant, emit_event
from tests.support.slack_api import TEAM_ID

SETUP = Actor("setup", "cli")
ACME_TOGGLES = ("notify_queue_call_lost", "notify_queue_sla_breached", "notify_user_registration")


class AcceptingEmail:
    name = "email"

    async def send(self, delivery):
        return ChannelResult(accepted=list(delivery.pending), reply="250 ok")

    async def close(self) -> None:
        pass


@pytest.fixture
def alerting(tenants):
    """acme: server, recipients, QUEUE_CALL_LOST and QUEUE_SLA on; its channel mirrors
    QUEUE_CALL_LOST and DISK_LOW. globex's channel mirrors everything of globex."""
    ctx = tenants
    ctx.settings.retry_base_s = 0.05
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        configure_tenant(
            session,
            ctx.box,
            acme,
            server=ACME_SERVER,
            toggles=ACME_TOGGLES,
            actor=SETUP,
        )
        acme_link = get_link(session=session, team_id=TEAM_ID, channel_id=ACME_CHANNEL)
        add_routes(
            session=session,
            link=acme_link,
            names=["queue_call_lost", "disk_low", "user_registration"],
            actor=SETUP,
            system_admin=True,
        )
        globex_link = get_link(session=session, team_id=TEAM_ID, channel_id=GLOBEX_CHANNEL)
        add_routes(session=session, link=globex_link, names=["all"], actor=SETUP)
    return ctx


def _emit(ctx, event="QUEUE_CALL_LOST", slug="acme", data=None):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        result = emit_event(session, ctx.box, tenant, event, data or sample(event))
        return [(d.id, d.channel, d.target, d.status) for d in result.deliveries]


def _slack_rows(ctx):
    with ctx.session() as session:
        return list(session.exec(select(Delivery).where(Delivery.channel == "slack")))


async def _deliver(ctx, *, pace=0.0, timeout=10.0, **kwargs):
    """Run the worker until no Slack delivery is queued (or `timeout`)."""
    channel = SlackChannel(ctx, pace_interval_s=pace)
    worker = Worker(ctx, channels={"email": AcceptingEmail(), "slack": channel}, **kwargs)
    deadline = time.monotonic() + timeout
    try:
        while True:
            await worker.run_once()
            if all(r.status not in ("queued", "sending") for r in _slack_rows(ctx)):
                return worker.stats
            if time.monotonic() > deadline:
                raise AssertionError("deliveries still queued")
            await asyncio.sleep(0.05)
    finally:
        await worker.close()


async def test_routed_event_arrives_as_block_kit_in_the_right_channel(alerting, slack_api) -> None:
    rows = _emit(alerting)
    assert [(c, t, s) for _, c, t, s in rows] == [
        ("email", "ops@acme.org", "queued"),
        ("slack", ACME_CHANNEL, "queued"),
    ]
    await _deliver(alerting)
    [post] = slack_api.posts()
    assert post["channel"] == ACME_CHANNEL
    blocks = post["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"].endswith("Call lost in queue Sales")
    fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    assert "*Caller*\n+49 30 901820" in fields and "*Waiting*\n3 min 4 s" in fields
    context = blocks[-1]
    assert context["type"] == "context"
    slack_id = rows[1][0]
    assert "Tenant *acme*" in context["elements"][0]["text"]
    assert f"delivery {slack_id}" in context["elements"][0]["text"]
    assert post["text"].startswith("[acme] Call lost in queue Sales — ")
    [row] = _slack_rows(alerting)
    assert row.status == "sent" and row.reply.startswith("ok ts=")
    assert row.results[ACME_CHANNEL]["status"] == "sent"
    assert slack_api.posts(GLOBEX_CHANNEL) == []


async def test_only_routed_and_enabled_events_reach_slack(alerting, slack_api) -> None:
    assert [c for _, c, _, _ in _emit(alerting, "QUEUE_SLA")] == ["email"]  # on, not routed
    assert [c for _, c, _, _ in _emit(alerting, "QUEUE_CALLBACK")] == ["email"]  # off
    # globex routes everything, but its QUEUE_CALL_LOST is off: a disabled toggle stops Slack too
    rows = _emit(alerting, "QUEUE_CALL_LOST", slug="globex")
    assert [(c, s) for _, c, _, s in rows] == [("email", "suppressed")]
    # always-on events follow `all`
    rows = _emit(alerting, "VOICEMAIL_RECEIVED", slug="globex")
    assert [(c, t) for _, c, t, _ in rows][1] == ("slack", GLOBEX_CHANNEL)
    await _deliver(alerting)
    assert [p["channel"] for p in slack_api.posts()] == [GLOBEX_CHANNEL]


async def test_system_events_go_where_system_admins_routed_them(alerting, slack_api) -> None:
    rows = _emit(alerting, "DISK_LOW", slug=None)
    assert ("slack", ACME_CHANNEL) in [(c, t) for _, c, t, _ in rows]
    await _deliver(alerting)
    [post] = slack_api.posts()
    assert post["channel"] == ACME_CHANNEL and "Disk low on pbx-01.example.com" in post["text"]
    assert post["text"].startswith("[system]")


async def test_secrets_of_the_payload_are_not_mirrored(alerting, slack_api) -> None:
    _emit(alerting, "USER_CREATION")
    await _deliver(alerting)
    [post] = slack_api.posts()
    text = str(post)
    assert sample("USER_CREATION")["password"] not in text
    assert "Password" not in text and "New user Amélie Laurent (1001)" in post["text"]


async def test_a_429_storm_delays_alerts_but_loses_none(alerting, slack_api) -> None:
    slack_api.fail("chat.postMessage", status=429, retry_after=1, times=6)
    ids = [i for _ in range(4) for i, c, _, _ in _emit(alerting) if c == "slack"]
    started = time.monotonic()
    await _deliver(alerting, timeout=20)
    assert time.monotonic() - started >= 1.0  # delivered late
    rows = {r.id: r for r in _slack_rows(alerting)}
    assert all(rows[i].status == "sent" for i in ids)
    assert len(slack_api.posts()) == 4  # each exactly once
    rate_limited = [c for c in slack_api.calls if c.status == 429]
    assert len(rate_limited) == 6
    assert any(rows[i].attempts > 1 for i in ids)


async def test_channel_not_found_fails_with_that_reason(alerting, slack_api) -> None:
    slack_api.fail("chat.postMessage", error="channel_not_found")
    [(slack_id, *_)] = [r for r in _emit(alerting) if r[1] == "slack"]
    await _deliver(alerting)
    [row] = _slack_rows(alerting)
    assert row.id == slack_id and row.status == "failed" and row.attempts == 1
    assert "channel_not_found" in row.last_error and row.reply == "channel_not_found"
    assert len([c for c in slack_api.calls if c.method == "chat.postMessage"]) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"error": "internal_error"},
        {"error": "fatal_error"},
        {"status": 503, "error": "service_unavailable"},
    ],
)
async def test_transient_errors_are_retried(alerting, slack_api, fault) -> None:
    slack_api.fail("chat.postMessage", times=2, **fault)
    _emit(alerting)
    await _deliver(alerting)
    [row] = _slack_rows(alerting)
    assert row.status == "sent" and row.attempts == 3


async def test_slack_attempts_are_recorded(alerting, slack_api) -> None:
    from core.services.deliveries import list_attempts

    slack_api.fail("chat.postMessage", error="internal_error", times=1)
    [(slack_id, *_)] = [r for r in _emit(alerting) if r[1] == "slack"]
    await _deliver(alerting, owner="slack-worker")
    [row] = _slack_rows(alerting)
    with alerting.session() as session:
        attempts = list_attempts(session=session, delivery_id=slack_id)
    assert [a.outcome for a in attempts] == ["retry", "sent"]
    assert "internal_error" in (attempts[0].detail or "")
    assert attempts[1].detail == row.reply and row.reply.startswith("ok ts=")
    assert {a.worker for a in attempts} == {"slack-worker"}
    assert all("xoxb" not in (a.detail or "") for a in attempts)


async def test_invalid_auth_is_permanent(alerting, slack_api) -> None:
    alerting.settings.slack_bot_token = "xoxb-revoked"
    _emit(alerting)
    await _deliver(alerting)
    [row] = _slack_rows(alerting)
    assert row.status == "failed" and "invalid_auth" in row.last_error
    assert "xoxb" not in row.last_error


async def test_bursts_to_one_channel_are_paced_not_dropped(alerting, slack_api) -> None:
    for _ in range(4):
        _emit(alerting)
    await _deliver(alerting, pace=0.3)
    times = [c.at for c in slack_api.calls if c.method == "chat.postMessage"]
    assert len(times) == 4 and len(slack_api.posts()) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25


async def test_long_bursts_are_put_back_in_the_queue(alerting, slack_api) -> None:
    for _ in range(3):
        _emit(alerting)
    stats = await _deliver(alerting, pace=1.5)  # only two slots within the 2 s wait budget
    assert stats.paced >= 1
    assert all(r.status == "sent" and r.attempts == 1 for r in _slack_rows(alerting))


async def test_failed_slack_delivery_can_be_retried_from_slack(bot, alerting, slack_api) -> None:
    slack_api.fail("chat.postMessage", error="not_in_channel", times=1)
    [(slack_id, *_)] = [r for r in _emit(alerting) if r[1] == "slack"]
    await _deliver(alerting)
    assert _slack_rows(alerting)[0].status == "failed"
    from tests.slackbot.conftest import ACME_ADMIN

    answer = await bot.command(f"retry {slack_id}", user=ACME_ADMIN)
    assert f"Queued delivery {slack_id} (QUEUE_CALL_LOST → slack" in answer.json["text"]
    await _deliver(alerting)
    [row] = _slack_rows(alerting)
    assert row.status == "sent"
    assert any("blocks" in p for p in slack_api.posts(ACME_CHANNEL))


async def test_the_default_worker_has_a_slack_channel_when_a_token_is_set(ctx) -> None:
    worker = Worker(ctx)
    assert "slack" not in worker.channels
    await worker.close()
    ctx.settings.slack_bot_token = "xoxb-x"
    worker = Worker(ctx)
    assert isinstance(worker.channels["slack"], SlackChannel)
    await worker.close()


async def test_a_burst_of_one_event_is_threaded_under_its_first_alert(alerting, slack_api) -> None:
    for _ in range(3):
        _emit(alerting)  # QUEUE_CALL_LOST, mirrored to acme's channel
    _emit(alerting, "DISK_LOW", slug=None)  # another event in the same channel
    await _deliver(alerting)  # pacing off: the four are sent at once
    posts = slack_api.posts(ACME_CHANNEL)
    lost = [p for p in posts if "Call lost" in p["text"]]
    [root] = [p for p in lost if "thread_ts" not in p]
    root_ts = next(c.answer["ts"] for c in slack_api.calls if c.body is root)
    assert [p["thread_ts"] for p in lost if p is not root] == [root_ts, root_ts]
    [disk] = [p for p in posts if "Disk low" in p["text"]]
    assert "thread_ts" not in disk  # a burst of its own


async def test_threading_can_be_turned_off(alerting, slack_api) -> None:
    alerting.settings.slack_thread_window_s = 0
    for _ in range(2):
        _emit(alerting)
    await _deliver(alerting)
    assert [("thread_ts" in p) for p in slack_api.posts(ACME_CHANNEL)] == [False, False]
