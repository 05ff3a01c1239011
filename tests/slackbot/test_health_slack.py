"""Health in Slack, through the real bolt app with signed requests and the Slack API stand-in:
`/mailbell status` shows the tenant's (or, outside a linked channel, the system's) health, and
the "Check now" / "Mute 24 h" buttons of health alerts act for authorized admins only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.models._common import utcnow
from core.vocabulary import HealthState
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    GLOBEX_CHANNEL,
    SYSTEM_ADMIN,
    TOKEN,
    UNLINKED_CHANNEL,
)
from tests.support.slack_health import (
    SlackApiWithAnswers,
    deliver_slack,
    emit_for,
    route_channel,
    slack_pass,
    subject,
)

CHECK_NOW, MUTE = "health_check_now", "health_mute"
MEMBER = {"ok": True, "channel": {"id": ACME_CHANNEL, "is_member": True, "is_archived": False}}


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiWithAnswers]:
    async with SlackApiWithAnswers(token=TOKEN) as api:
        yield api


@pytest.fixture
async def broken(tenants, slack_api, bot) -> dict[str, str]:
    """acme's channel refused the first alert (not_in_channel): its subject is critical;
    globex's channel took its alert: ok. Keys by tenant. The bolt app has made its first
    request (its own auth.test) and `slack_api.calls` is empty."""
    ctx = tenants
    acme_link = route_channel(ctx, "acme", ACME_CHANNEL)
    globex_link = route_channel(ctx, "globex", GLOBEX_CHANNEL)
    slack_api.fail("chat.postMessage", error="not_in_channel", channel=ACME_CHANNEL, times=1)
    emit_for(ctx, "acme")
    emit_for(ctx, "globex")
    await deliver_slack(ctx)
    await slack_pass(ctx)
    await slack_pass(ctx)
    keys = {"acme": f"slack:link:{acme_link}", "globex": f"slack:link:{globex_link}"}
    assert subject(ctx, keys["acme"]).state == HealthState.CRITICAL
    assert subject(ctx, keys["globex"]).state == HealthState.OK
    assert subject(ctx, "slack:token").state == HealthState.OK
    await bot.command("help", user=ACME_ADMIN)
    slack_api.calls.clear()
    return keys


async def _answer_to(slack_api, answer) -> dict:
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url))
    [response] = slack_api.responses(answer.response_url)
    return response


# -- /mailbell status ---------------------------------------------------------------------------


async def test_status_shows_the_tenants_health(bot, broken) -> None:
    answer = await bot.command("status", user=ACME_ADMIN)
    assert answer.status == 200
    text = answer.message
    assert (
        f"✗ *critical* · Slack #{ACME_CHANNEL} — posts fail: not_in_channel "
        "(the bot is not a member of the channel) · since <!date^" in text
    )
    assert f"↳ invite the bot: /invite @mailbell in #{ACME_CHANNEL}" in text
    assert "mail path healthy" not in text
    assert GLOBEX_CHANNEL not in text and "bot token" not in text  # not acme's subjects
    blocks = answer.json["blocks"]
    assert blocks[0]["type"] == "header" and "*Health* (0 ok)" in blocks[1]["text"]["text"]
    assert "health: critical (1 subject(s) not ok)" in answer.json["text"]

    answer = await bot.command("status", user=GLOBEX_ADMIN, channel=GLOBEX_CHANNEL)
    assert "✓ mail path healthy (1 checked)" in answer.message
    assert ACME_CHANNEL not in answer.message


async def test_status_outside_a_linked_channel_shows_the_system_health(
    bot, tenants, broken, slack_api
) -> None:
    answer = await bot.command("status", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "mailbell · system" in answer.json["blocks"][0]["text"]["text"]
    assert "✓ mail path healthy (1 checked)" in answer.message
    assert ACME_CHANNEL not in answer.message

    slack_api.fail("auth.test", error="invalid_auth")  # the bolt app checked its token already
    await slack_pass(tenants)
    await slack_pass(tenants)
    answer = await bot.command("status", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "✗ *critical* · Slack bot token — Slack refuses the bot token: invalid_auth" in (
        answer.message
    )
    assert "↳ put a valid bot token in SLACK_BOT_TOKEN" in answer.message
    assert TOKEN not in answer.text

    # a tenant admin outside its channel is refused, as before
    answer = await bot.command("status", user=ACME_ADMIN, channel=UNLINKED_CHANNEL)
    assert ":no_entry:" in answer.message and "bot token" not in answer.message


# -- Mute 24 h ----------------------------------------------------------------------------------


async def test_mute_by_the_tenants_admin(bot, tenants, broken, slack_api, audit) -> None:
    key = broken["acme"]
    answer = await bot.click(MUTE, key, user=ACME_ADMIN)
    assert answer.status == 200
    row = subject(tenants, key)
    assert row.muted_until is not None
    assert timedelta(hours=23, minutes=59) < row.muted_until - utcnow() <= timedelta(hours=24)
    assert row.state == HealthState.CRITICAL  # still checked and shown
    [entry] = audit("health.mute")
    assert entry.actor == f"{ACME_ADMIN}@T0TEAM" and entry.source == "slack"
    assert entry.tenant == "acme" and entry.target == key
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    [said] = [post["text"] for post in slack_api.posts(ACME_CHANNEL)]
    assert f"muted for 24 h by <@{ACME_ADMIN}>" in said and f"#{ACME_CHANNEL}" in said


async def test_mute_refused_to_another_tenants_admin_and_for_system_subjects(
    bot, tenants, broken, slack_api, audit, state
) -> None:
    before = state()
    # globex's admin, in globex's channel, on acme's subject
    answer = await bot.click(MUTE, broken["acme"], user=GLOBEX_ADMIN, channel=GLOBEX_CHANNEL)
    response = await _answer_to(slack_api, answer)
    assert response["text"].startswith(":no_entry: You may not act on this health subject")
    # acme's admin, in acme's channel, on the system's token
    answer = await bot.click(MUTE, "slack:token", user=ACME_ADMIN)
    response = await _answer_to(slack_api, answer)
    assert "Only system admins may act on mailbell's own health" in response["text"]
    # acme's admin on its own subject, but from globex's channel
    answer = await bot.click(MUTE, broken["acme"], user=ACME_ADMIN, channel=GLOBEX_CHANNEL)
    assert ":no_entry:" in (await _answer_to(slack_api, answer))["text"]
    assert state() == before
    assert audit("health.mute") == []
    assert [e.target for e in audit("slack.refused")] == [
        f"health_mute {broken['acme']}",
        "health_mute slack:token",
        f"health_mute {broken['acme']}",
    ]
    assert slack_api.methods() == []  # nothing announced (the refusals went to response_url)


async def test_a_system_admin_mutes_a_system_subject(bot, tenants, broken, audit) -> None:
    answer = await bot.click(MUTE, "slack:token", user=SYSTEM_ADMIN, channel=ACME_CHANNEL)
    assert answer.status == 200
    assert subject(tenants, "slack:token").muted_until is not None
    [entry] = audit("health.mute")
    assert entry.tenant is None and entry.actor.startswith(SYSTEM_ADMIN)


# -- Check now ----------------------------------------------------------------------------------


async def test_check_now_after_inviting_the_bot(bot, tenants, broken, slack_api, audit) -> None:
    key = broken["acme"]
    slack_api.answers["conversations.info"] = MEMBER  # the bot was invited
    before = subject(tenants, key).checked_at
    calls = len(slack_api.calls)
    answer = await bot.click(CHECK_NOW, key, user=ACME_ADMIN)
    response = await _answer_to(slack_api, answer)
    assert response["response_type"] == "ephemeral" and response["replace_original"] is False
    text = response["text"]
    assert text.startswith(":arrows_counterclockwise: Checked now: ✗ *critical* · Slack")
    assert "The newest result is *ok*: the state changes when the next check agrees." in text
    row = subject(tenants, key)
    assert row.checked_at > before and row.candidate_state == HealthState.OK
    [entry] = audit("health.check")
    assert entry.actor == f"{ACME_ADMIN}@T0TEAM" and entry.tenant == "acme"
    assert entry.target == key
    # acme's checks only: its channel was asked about, not the token (a system subject)
    asked = [(c.method, c.body.get("channel")) for c in slack_api.calls[calls:]]
    assert asked == [("conversations.info", ACME_CHANNEL)]

    answer = await bot.click(CHECK_NOW, key, user=ACME_ADMIN)
    text = (await _answer_to(slack_api, answer))["text"]
    assert "✓ *ok* · Slack" in text and "the bot is in the channel" in text
    assert subject(tenants, key).state == HealthState.OK
    assert len(audit("health.check")) == 2


async def test_check_now_refused_to_others(bot, tenants, broken, slack_api, audit, state) -> None:
    before = state()
    calls = len(slack_api.calls)
    answer = await bot.click(CHECK_NOW, broken["acme"], user=GLOBEX_ADMIN, channel=GLOBEX_CHANNEL)
    response = await _answer_to(slack_api, answer)
    assert response["text"].startswith(":no_entry:")
    answer = await bot.click(CHECK_NOW, "slack:token", user=ACME_ADMIN)
    assert "Only system admins" in (await _answer_to(slack_api, answer))["text"]
    assert state() == before  # no check ran: checked_at and candidates unchanged
    assert [c.method for c in slack_api.calls[calls:]] == []
    assert audit("health.check") == []
    assert len(audit("slack.refused")) == 2


async def test_check_now_by_a_system_admin_on_the_token(bot, tenants, broken, slack_api) -> None:
    slack_api.fail("auth.test", error="account_inactive")
    answer = await bot.click(CHECK_NOW, "slack:token", user=SYSTEM_ADMIN, channel=ACME_CHANNEL)
    text = (await _answer_to(slack_api, answer))["text"]
    assert "✓ *ok* · Slack bot token" in text
    assert "The newest result is *critical*" in text
    assert subject(tenants, "slack:token").candidate_state == HealthState.CRITICAL


# -- the real alert, end to end -------------------------------------------------------------------

SECOND_CHANNEL = "CACME00002"


async def test_the_alerts_buttons_work_where_the_alert_lands(
    bot, tenants, slack_api, audit
) -> None:
    """acme's first channel refuses posts; the health alert about it lands in acme's second
    channel, and its "Mute 24 h" button, clicked there by acme's admin, mutes that subject."""
    ctx = tenants
    route_channel(ctx, "acme", SECOND_CHANNEL)
    broken_link = route_channel(ctx, "acme", ACME_CHANNEL)
    slack_api.fail("chat.postMessage", error="not_in_channel", channel=ACME_CHANNEL)
    emit_for(ctx, "acme")
    await deliver_slack(ctx)
    await slack_pass(ctx)
    notices = await slack_pass(ctx)
    key = f"slack:link:{broken_link}"
    assert [(n.notice, n.key) for n in notices] == [("alert", key)]
    await deliver_slack(ctx)  # the alert goes out like any delivery
    alerts = [p for p in slack_api.posts(SECOND_CHANNEL) if p.get("blocks")]
    buttons = [
        (element["action_id"], element["value"], element.get("text", {}).get("text"))
        for post in alerts
        for block in post["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert (MUTE, key, "Mute 24 h") in buttons and (CHECK_NOW, key, "Check now") in buttons
    alert_ts = next(
        c.answer["ts"]
        for c in slack_api.calls
        if c.ok and c.method == "chat.postMessage" and c.body in alerts
    )

    answer = await bot.click(
        MUTE, key, user=ACME_ADMIN, channel=SECOND_CHANNEL, message_ts=alert_ts
    )
    assert answer.status == 200
    assert subject(ctx, key).muted_until is not None
    assert [e.target for e in audit("health.mute")] == [key]
    await slack_api.wait_for(
        lambda: any("muted for 24 h" in p["text"] for p in slack_api.posts(SECOND_CHANNEL))
    )
