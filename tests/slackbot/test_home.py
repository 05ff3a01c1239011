"""The App Home tab through the real bolt app: what each user's Home names, its buttons (with
the same authorization and audit as the status buttons), and its refreshing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.models.delivery import Delivery
from core.services.slack_home import (
    HomeFailure,
    HomeHealth,
    HomeOverview,
    HomeTenant,
    HomeToggle,
)
from slackbot.blocks.home import HOME_MAX_BLOCKS, home_view
from slackbot.listeners.events.home import home_refresher
from tests.slackbot.conftest import (
    ACME_ADMIN,
    GLOBEX_ADMIN,
    STRANGER,
    SYSTEM_ADMIN,
    Bot,
)
from tests.support.factories import read_settings, set_settings
from tests.support.local_site import start_site
from tests.support.slack_api import TEAM_ID
from tests.support.slack_home import SETUP, failed_delivery, more_tenants, tenant_id

LOST = "notify_queue_call_lost"


async def _bot(ctx: Any, api: Any) -> AsyncIterator[Bot]:
    from slackbot.http import mount

    web_app = web.Application()
    bolt = mount(web_app, ctx)
    runner, port = await start_site(web_app)
    async with aiohttp.ClientSession() as http:
        bot = Bot(f"http://127.0.0.1:{port}/slack/events", api, http)
        bot.bolt = bolt  # type: ignore[attr-defined]
        yield bot
    await runner.cleanup()


@pytest.fixture
async def bot(slack_ctx, slack_api) -> AsyncIterator[Bot]:
    """conftest's bot, keeping its bolt app (whose Home refresher a test drives)."""
    async for bot in _bot(slack_ctx, slack_api):
        yield bot


@pytest.fixture
async def fast_bot(slack_ctx, slack_api, monkeypatch) -> AsyncIterator[Bot]:
    """A bot whose Home refresher passes every 0.2 s instead of 10 s."""
    monkeypatch.setattr("slackbot.home_refresh.PERIOD_S", 0.2)
    async for bot in _bot(slack_ctx, slack_api):
        yield bot


def _published(api: Any, user: str) -> list[dict[str, Any]]:
    return [call["view"] for call in api.views("views.publish") if call["user_id"] == user]


async def _open(bot: Bot, api: Any, user: str) -> dict[str, Any]:
    """Open the user's Home; the view published to them."""
    before = len(_published(api, user))
    answer = await bot.home_opened(user)
    assert answer.status == 200
    await api.wait_for(lambda: len(_published(api, user)) > before)
    return _published(api, user)[-1]


async def _press(
    bot: Bot, api: Any, view: dict[str, Any], action_id: str, value: str, user: str
) -> dict[str, Any]:
    """Press a button of the published Home; the view published again in answer."""
    before = len(_published(api, user))
    await bot.view_click(view, action_id, value, user=user)
    await api.wait_for(lambda: len(_published(api, user)) > before)
    return _published(api, user)[-1]


def _text(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def _action_ids(view: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def test_a_tenant_admin_sees_their_tenant_and_no_other(bot, tenants, slack_api) -> None:
    view = await _open(bot, slack_api, ACME_ADMIN)
    assert view["type"] == "home"
    assert "acme" in _text(view) and "globex" not in _text(view)
    acme = tenant_id(tenants, "acme")
    assert f"mailbell_home_toggle:{acme}:{LOST}" in _action_ids(view)
    assert "not configured" in _text(view)  # no mail server yet


async def test_a_system_admin_sees_every_tenant(bot, tenants, slack_api) -> None:
    view = await _open(bot, slack_api, SYSTEM_ADMIN)
    assert "acme" in _text(view) and "globex" in _text(view)
    assert "system admin" in _text(view)


async def test_a_stranger_sees_no_tenant_and_how_to_get_access(bot, tenants, slack_api) -> None:
    view = await _open(bot, slack_api, STRANGER)
    text = _text(view)
    assert "acme" not in text and "globex" not in text
    assert "To get access" in text and "/mailbell admins add @you" in text
    assert _action_ids(view) == []


async def test_the_messages_tab_publishes_nothing(bot, tenants, slack_api) -> None:
    event = {"type": "app_home_opened", "user": ACME_ADMIN, "tab": "messages"}
    assert (await bot.event(event)).status == 200
    await _open(bot, slack_api, GLOBEX_ADMIN)  # a later open is published: the first was not
    assert _published(slack_api, ACME_ADMIN) == []


async def test_a_home_toggle_changes_the_setting_and_is_audited(
    bot, tenants, slack_api, audit
) -> None:
    set_settings(tenants, SETUP, "acme", recipients="ops@acme.example")
    assert not read_settings(tenants, "acme").toggles[LOST]
    view = await _open(bot, slack_api, ACME_ADMIN)
    action = f"mailbell_home_toggle:{tenant_id(tenants, 'acme')}:{LOST}"
    button = next(
        e
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action
    )
    assert button["text"]["text"] == "queue_call_lost: off" and button["value"] == "on"
    after = await _press(bot, slack_api, view, action, "on", ACME_ADMIN)
    assert read_settings(tenants, "acme").toggles[LOST]
    assert "queue_call_lost: on" in _text(after) and "queue_call_lost is now on" in _text(after)
    [entry] = [e for e in audit("notification_settings.update") if e.actor != "setup"]
    assert entry.actor == f"{ACME_ADMIN}@{TEAM_ID}" and entry.source == "slack"
    assert entry.tenant == "acme" and LOST in entry.fields


async def test_another_tenants_admin_is_refused_and_nothing_changes(
    bot, tenants, slack_api, audit, state
) -> None:
    view = await _open(bot, slack_api, ACME_ADMIN)
    before = state()
    action = f"mailbell_home_toggle:{tenant_id(tenants, 'acme')}:{LOST}"
    after = await _press(bot, slack_api, view, action, "on", GLOBEX_ADMIN)
    assert state() == before
    assert not read_settings(tenants, "acme").toggles[LOST]
    assert ":no_entry: You may not change this tenant's events" in _text(after)
    assert "acme" not in _text(after)  # globex's admin's Home still shows only globex
    [refusal] = audit("slack.refused")
    assert refusal.actor == f"{GLOBEX_ADMIN}@{TEAM_ID}" and refusal.tenant == "acme"


async def test_retry_button_requeues_a_failed_delivery(bot, tenants, slack_api, audit) -> None:
    set_settings(tenants, SETUP, "acme", server="smtp.acme.org", username="alerts@acme.org")
    delivery_id = failed_delivery(tenants, "acme")
    view = await _open(bot, slack_api, ACME_ADMIN)
    assert "554 5.7.1 rejected" in _text(view)
    action = f"mailbell_home_retry:{delivery_id}"
    assert action in _action_ids(view)
    after = await _press(bot, slack_api, view, action, str(delivery_id), ACME_ADMIN)
    assert f"Queued delivery {delivery_id}" in _text(after)
    with tenants.session() as session:
        assert session.get(Delivery, delivery_id).status == "queued"
    [entry] = audit("delivery.retry")
    assert entry.actor == f"{ACME_ADMIN}@{TEAM_ID}" and entry.target == f"delivery:{delivery_id}"


async def test_retry_of_another_tenants_delivery_is_refused(
    bot, tenants, slack_api, audit, state
) -> None:
    delivery_id = failed_delivery(tenants, "acme")
    view = await _open(bot, slack_api, GLOBEX_ADMIN)
    before = state()
    action = f"mailbell_home_retry:{delivery_id}"
    after = await _press(bot, slack_api, view, action, str(delivery_id), GLOBEX_ADMIN)
    assert state() == before
    assert f"You may not retry delivery {delivery_id}" in _text(after)
    assert [r.tenant for r in audit("slack.refused")] == ["acme"]


async def test_the_refresher_publishes_a_change_made_elsewhere_and_only_then(
    fast_bot, tenants, slack_api
) -> None:
    refresher = home_refresher(fast_bot.bolt)
    assert refresher is not None
    await _open(fast_bot, slack_api, ACME_ADMIN)
    published = len(_published(slack_api, ACME_ADMIN))
    passes = refresher.passes
    await slack_api.wait_for(lambda: refresher.passes >= passes + 3)
    assert len(_published(slack_api, ACME_ADMIN)) == published  # nothing changed: not sent
    set_settings(tenants, SETUP, "acme", recipients="ops@acme.example", **{LOST: True})
    await slack_api.wait_for(lambda: len(_published(slack_api, ACME_ADMIN)) > published)
    assert "queue_call_lost: on" in _text(_published(slack_api, ACME_ADMIN)[-1])
    assert _published(slack_api, GLOBEX_ADMIN) == []  # never opened: never refreshed


async def test_past_twenty_tenants_the_home_says_how_many_more(bot, tenants, slack_api) -> None:
    more_tenants(tenants, 21)  # 23 in all
    view = await _open(bot, slack_api, SYSTEM_ADMIN)
    assert "and 3 more tenants" in _text(view)
    assert len(view["blocks"]) <= HOME_MAX_BLOCKS
    toggles = [a for a in _action_ids(view) if a.startswith("mailbell_home_toggle:")]
    assert len({a.split(":")[1] for a in toggles}) == 20


def _busy_tenant(n: int) -> HomeTenant:
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    failures = tuple(
        HomeFailure(
            n * 10 + i, "VOICEMAIL_RECEIVED", "email", "a@b.example", "554 <@U1>", at, "failed"
        )
        for i in range(5)
    )
    return HomeTenant(
        id=n,
        slug=f"t{n}",
        name=f"Tenant <!channel> {n}",
        server=None,
        server_note=None,
        health=HomeHealth(worst=None),
        toggles=tuple(HomeToggle(f"event{i}", f"notify_event{i}", i % 2 == 0) for i in range(6)),
        sent=1,
        failed=5,
        queued=0,
        failures=failures,
    )


def test_twenty_tenants_with_five_failures_each_fit_slacks_limits() -> None:
    overview = HomeOverview(
        user_id=SYSTEM_ADMIN,
        is_system_admin=True,
        tenants=tuple(_busy_tenant(n) for n in range(1, 21)),
        more=980,
    )
    view = home_view(overview, is_system_admin=True, notice=":no_entry: refused")
    blocks = view["blocks"]
    assert len(blocks) <= HOME_MAX_BLOCKS
    assert "and 980 more tenants" in _text(view)
    retries = [a for a in _action_ids(view) if a.startswith("mailbell_home_retry:")]
    assert len(retries) == 100  # every failure keeps its Retry button
    for block in blocks:
        ids = [e["action_id"] for e in block.get("elements", []) if "action_id" in e]
        assert len(ids) == len(set(ids)) and len(ids) <= 25
        assert len(block.get("text", {}).get("text", "")) <= 3000
    assert len({b["block_id"] for b in blocks if "block_id" in b}) == len(
        [b for b in blocks if "block_id" in b]
    )
    assert "<!channel>" not in _text(view) and "<@U1>" not in _text(view)  # escaped


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refresher(shown: dict[str, str], clock: _Clock, sent: list[tuple[str, str]], **kw: Any):
    """A refresher whose views are `shown[user]` (what the database would say now)."""
    from slackbot.home_refresh import BuiltView, HomeRefresher, view_digest

    async def build(requests: list[Any]) -> list[BuiltView]:
        views = [{"type": "home", "text": shown[r.user_id], "notice": r.notice} for r in requests]
        return [BuiltView(v, view_digest(v)) for v in views]

    async def publish(client: Any, user_id: str, view: dict[str, Any]) -> None:
        sent.append((user_id, view["text"]))

    return HomeRefresher(build, publish, period=10.0, clock=clock, **kw)


async def test_a_users_click_answer_counts_for_the_debounce() -> None:
    clock, shown = _Clock(), {"U1": "a"}
    sent: list[tuple[str, str]] = []
    refresher = _refresher(shown, clock, sent)
    refresher.answered("U1", TEAM_ID, None, ":white_check_mark: done")
    await asyncio.wait_for(_until(lambda: len(sent) == 1), 5)
    shown["U1"] = "b"  # changed elsewhere right after the click
    clock.now += 5
    assert await refresher.refresh() == 0  # 5 s after the last publish: not yet
    clock.now += 5
    assert await refresher.refresh() == 1 and sent[-1] == ("U1", "b")
    clock.now += 10
    assert await refresher.refresh() == 0  # unchanged: not sent again
    await refresher.close()


async def test_users_are_forgotten_after_an_hour_and_past_the_bound() -> None:
    clock, sent = _Clock(), list[tuple[str, str]]()
    shown = {f"U{n}": "a" for n in range(4)}
    refresher = _refresher(shown, clock, sent, max_users=3)
    for n in range(4):
        refresher.opened(f"U{n}", TEAM_ID, None)
    assert refresher.watched == ["U1", "U2", "U3"]  # the least recent went first
    await asyncio.wait_for(_until(lambda: len(sent) == 4), 5)
    clock.now += 3601
    shown.update({u: "b" for u in shown})
    assert await refresher.refresh() == 0 and refresher.watched == []
    await refresher.close()


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
