"""The Slack health check against the Slack API stand-in: posts through the real worker record
their result on the link, a refused channel or token becomes critical after two agreeing
checks, and a post that goes through again clears it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from core.health.runner import CheckScope
from core.vocabulary import HealthState
from tests.support.slack_health import (
    SlackApiWithAnswers,
    deliver_slack,
    emit_for,
    link_result,
    route_channel,
    slack_pass,
    subject,
)

TOKEN = "xoxb-health-test"
CHANNEL = "CACME00001"


@pytest.fixture
async def api() -> AsyncIterator[SlackApiWithAnswers]:
    async with SlackApiWithAnswers(token=TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def sctx(ctx, api):
    ctx.settings.slack_bot_token = TOKEN
    ctx.settings.slack_api_url = api.url
    ctx.settings.health_check_timeout_s = 5
    return ctx


def _sent(api: SlackApiWithAnswers, method: str) -> list[dict]:
    return [call.body for call in api.calls if call.method == method]


async def test_not_in_channel_is_recorded_on_the_link_and_critical_after_two_checks(
    sctx, api
) -> None:
    link_id = route_channel(sctx, "acme", CHANNEL)
    assert link_result(sctx, link_id) == (None, None)
    api.fail("chat.postMessage", error="not_in_channel", channel=CHANNEL)
    emit_for(sctx, "acme")
    await deliver_slack(sctx)
    at, error = link_result(sctx, link_id)
    assert error == "not_in_channel" and at is not None
    assert api.posts() == []  # refused, and not retried (permanent)
    assert len(_sent(api, "chat.postMessage")) == 1

    key = f"slack:link:{link_id}"
    await slack_pass(sctx)
    first = subject(sctx, key)
    assert first.state == HealthState.UNKNOWN and first.candidate_state == HealthState.CRITICAL
    await slack_pass(sctx)
    row = subject(sctx, key)
    assert row.state == HealthState.CRITICAL
    assert row.subject == f"#{CHANNEL}"
    assert row.reason.startswith("posts fail: not_in_channel")
    assert row.detail["action"] == f"invite the bot: /invite @mailbell in #{CHANNEL}"
    assert row.detail["last_post_error"] == "not_in_channel"
    with sctx.session() as session:
        from core.services.tenants import get_tenant

        assert row.tenant_id == get_tenant(session=session, slug="acme").id
    # the check asked about the channel (the stand-in's answer says nothing about membership)
    assert [b["channel"] for b in _sent(api, "conversations.info")] == [CHANNEL, CHANNEL]

    # The bot is invited: the next post goes through, and two checks later the state is ok.
    api.heal()
    emit_for(sctx, "acme")
    await deliver_slack(sctx)
    assert api.posts(CHANNEL) != []
    assert link_result(sctx, link_id)[1] is None
    await slack_pass(sctx)
    await slack_pass(sctx)
    assert subject(sctx, key).state == HealthState.OK


async def test_a_channel_the_bot_is_not_in_is_found_before_any_post(sctx, api) -> None:
    """conversations.info says is_member false: no alert had to fail first."""
    link_id = route_channel(sctx, "acme", CHANNEL)
    channel = {"id": CHANNEL, "is_member": False, "is_archived": False}
    api.answers["conversations.info"] = {"ok": True, "channel": channel}
    await slack_pass(sctx)
    await slack_pass(sctx)
    row = subject(sctx, f"slack:link:{link_id}")
    assert row.state == HealthState.CRITICAL
    assert row.reason == "Slack reports: not_in_channel (the bot is not a member of the channel)"
    assert _sent(api, "chat.postMessage") == []


async def test_invalid_auth_makes_the_token_critical(sctx, api) -> None:
    api.fail("auth.test", error="invalid_auth")
    await slack_pass(sctx)
    await slack_pass(sctx)
    row = subject(sctx, "slack:token")
    assert row.state == HealthState.CRITICAL and row.tenant_id is None
    assert row.reason == "Slack refuses the bot token: invalid_auth"
    assert "SLACK_BOT_TOKEN" in row.detail["action"]
    assert TOKEN not in row.reason and TOKEN not in str(row.detail)
    assert len(_sent(api, "auth.test")) == 2


async def test_a_working_token_is_ok_and_a_tenant_check_leaves_it_alone(sctx, api) -> None:
    route_channel(sctx, "acme", CHANNEL)
    await slack_pass(sctx)
    await slack_pass(sctx)
    row = subject(sctx, "slack:token")
    assert row.state == HealthState.OK and "mailbell test" in row.reason
    calls = len(api.calls)
    with sctx.session() as session:
        from core.services.tenants import get_tenant

        acme_id = get_tenant(session=session, slug="acme").id
    await slack_pass(sctx, CheckScope(tenant_id=acme_id))
    assert [c.method for c in api.calls[calls:]] == ["conversations.info"]


async def test_an_unreachable_slack_is_a_warning(sctx, api) -> None:
    await api.close()  # nothing listens there any more
    await slack_pass(sctx)
    await slack_pass(sctx)
    row = subject(sctx, "slack:token")
    assert row.state == HealthState.WARNING
    assert row.reason.startswith("the Slack API (127.0.0.1:")


async def test_without_a_token_slack_is_not_watched(ctx, api) -> None:
    ctx.settings.slack_api_url = api.url
    route_channel(ctx, "acme", CHANNEL)
    await slack_pass(ctx)
    assert subject(ctx, "slack:token") is None
    assert api.calls == []


async def test_a_burst_to_one_channel_writes_its_result_once(sctx, api) -> None:
    """The worker posts 20 alerts: one UPDATE of the link, not one per post."""
    link_id = route_channel(sctx, "acme", CHANNEL)
    for _ in range(20):
        emit_for(sctx, "acme")
    updates: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE SLACK_CHANNEL_LINK"):
            updates.append(statement)

    event.listen(sctx.engine, "before_cursor_execute", count)
    try:
        await deliver_slack(sctx)
    finally:
        event.remove(sctx.engine, "before_cursor_execute", count)
    assert len(api.posts(CHANNEL)) == 20
    assert len(updates) == 1
    assert link_result(sctx, link_id)[1] is None and link_result(sctx, link_id)[0] is not None


@pytest.mark.parametrize(
    ("error", "state", "action"),
    [
        ("is_archived", HealthState.CRITICAL, f"unarchive #{CHANNEL}, or route the events"),
        ("channel_not_found", HealthState.CRITICAL, f"invite the bot into #{CHANNEL} if it is"),
        ("account_inactive", HealthState.CRITICAL, "ask mailbell's operator to put a valid bot"),
        ("restricted_action", HealthState.WARNING, "see Slack's documentation"),
    ],
)
async def test_what_each_refused_post_means(sctx, api, error, state, action) -> None:
    link_id = route_channel(sctx, "acme", CHANNEL)
    api.fail("chat.postMessage", error=error, channel=CHANNEL)
    emit_for(sctx, "acme")
    await deliver_slack(sctx)
    assert link_result(sctx, link_id)[1] == error
    await slack_pass(sctx)
    await slack_pass(sctx)
    row = subject(sctx, f"slack:link:{link_id}")
    assert row.state == state and error in row.reason
    assert row.detail["action"].startswith(action)


async def test_a_transient_error_is_not_kept_on_the_link(sctx, api) -> None:
    """internal_error is retried and says nothing about the channel: the link keeps its last
    real result (here: the retry that went through)."""
    link_id = route_channel(sctx, "acme", CHANNEL)
    api.fail("chat.postMessage", error="internal_error", channel=CHANNEL, times=1)
    emit_for(sctx, "acme")
    await deliver_slack(sctx)
    assert [c.answer.get("error") for c in api.calls] == ["internal_error", None]
    at, error = link_result(sctx, link_id)
    assert error is None and at is not None
