"""The Events API and interactivity at `/slack/events`: the URL check Slack sends when the
manifest is saved, the guard in front of JSON callbacks, and the manifest in docs/slack.md
subscribing to what the app listens for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.slackbot.conftest import SYSTEM_ADMIN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "slack.md"


def _manifests() -> list[dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


async def test_the_url_check_is_answered_with_its_challenge(bot) -> None:
    body = json.dumps({"token": "unused", "challenge": "c-123xyz", "type": "url_verification"})
    answer = await bot.send(bot.requests.sign(body, content_type="application/json"))
    assert answer.status == 200
    assert "c-123xyz" in answer.text


async def test_an_event_with_a_bad_signature_runs_nothing(bot, slack_api) -> None:
    body = bot.requests.event_body({"type": "app_home_opened", "user": SYSTEM_ADMIN, "tab": "home"})
    forged = bot.requests.sign(body, content_type="application/json", secret="not-the-secret")
    answer = await bot.send(forged)
    assert answer.status == 401
    assert slack_api.calls == []


async def test_the_same_event_sent_twice_is_refused_the_second_time(bot, slack_api) -> None:
    body = bot.requests.event_body({"type": "app_home_opened", "user": SYSTEM_ADMIN, "tab": "home"})
    signed = bot.requests.sign(body, content_type="application/json")
    assert (await bot.send(signed)).status == 200
    assert (await bot.send(signed)).status == 401


def test_the_manifest_subscribes_to_what_the_app_listens_for() -> None:
    http, socket = _manifests()[:2]
    assert http["features"]["app_home"]["home_tab_enabled"] is True
    settings = http["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["interactivity"]["is_enabled"] is True
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        http["features"]["slash_commands"][0]["url"],
    }
    assert urls == {"https://mailbell.example.com/slack/events"}
    assert socket["settings"]["socket_mode_enabled"] is True
    assert socket["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert "request_url" not in socket["settings"]["event_subscriptions"]
