"""Signed requests through the real bolt app: signature checks, help for everyone."""

from __future__ import annotations

import time

import pytest

from tests.slackbot.conftest import ACME_ADMIN, ACME_CHANNEL, STRANGER, SYSTEM_ADMIN
from tests.support.slack_api import SignedRequest


def _enable_body(bot) -> str:
    return bot.requests.command_body(
        "enable queue_call_lost", user=SYSTEM_ADMIN, channel=ACME_CHANNEL
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda r, b: r.sign(b, secret="not-the-secret"), id="wrong-secret"),
        pytest.param(lambda r, b: SignedRequest(b + "x", r.sign(b).headers), id="tampered-body"),
        pytest.param(lambda r, b: SignedRequest(b, {}), id="missing-headers"),
        pytest.param(
            lambda r, b: SignedRequest(
                b, {k: v for k, v in r.sign(b).headers.items() if k != "X-Slack-Signature"}
            ),
            id="missing-signature",
        ),
        pytest.param(
            lambda r, b: r.sign(b, timestamp=int(time.time()) - 301), id="stale-timestamp"
        ),
        pytest.param(
            lambda r, b: r.sign(b, timestamp=int(time.time()) + 301), id="future-timestamp"
        ),
    ],
)
async def test_bad_requests_are_refused_with_401_and_change_nothing(
    bot, tenants, slack_api, state, audit, forge
) -> None:
    before, entries = state(), len(audit())
    body = _enable_body(bot)
    answer = await bot.send(forge(bot.requests, body))
    assert answer.status == 401
    assert state() == before and len(audit()) == entries
    assert slack_api.posts() == []


async def test_a_good_signature_within_five_minutes_is_accepted(bot, tenants) -> None:
    body = bot.requests.command_body("help", user=STRANGER, channel=ACME_CHANNEL)
    answer = await bot.send(bot.requests.sign(body, timestamp=int(time.time()) - 290))
    assert answer.status == 200


async def test_help_is_open_to_everyone_even_in_unlinked_channels(bot, tenants) -> None:
    answer = await bot.command("help", user=STRANGER, channel="CNOWHERE01")
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    for word in ("status", "enable", "recipients", "route", "retry", "link", "admins"):
        assert f"/mailbell {word}" in answer.message


@pytest.mark.parametrize("text", ["frobnicate", "", "STATUSS now"])
async def test_unknown_subcommand_shows_help(bot, tenants, state, text) -> None:
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN)
    assert answer.status == 200
    assert "/mailbell status" in answer.message
    if text:
        assert f"Unknown command `{text.split()[0]}`" in answer.message
    assert state() == before


async def test_ack_is_fast_and_auth_test_is_called_once(bot, tenants, slack_api) -> None:
    for _ in range(3):
        started = time.perf_counter()
        answer = await bot.command("status", user=ACME_ADMIN)
        assert answer.status == 200
        assert time.perf_counter() - started < 1.0
    assert slack_api.methods().count("auth.test") == 1
