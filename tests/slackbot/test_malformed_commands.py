"""Malformed slash-command arguments through the real bolt app: a clear ephemeral answer,
nothing changed, nothing logged as a failure (no "something went wrong", no traceback).

`/mailbell retry ID` with an id past the largest row id (2^63 - 1) is "does not exist": the
database driver overflows on such a number, so it must never reach a query.
"""

from __future__ import annotations

import logging

import pytest

from tests.slackbot.conftest import ACME_ADMIN, SYSTEM_ADMIN

HUGE_IDS = [
    "99999999999999999999999",  # > 2^63
    str(2**63),  # one past the largest SQLite / PostgreSQL bigint
    str(2**64 + 1),
    "#" + "9" * 30,  # ids may be written #123
    "9" * 5000,  # over Python's 4,300-digit int() limit
]


@pytest.mark.parametrize("delivery_id", HUGE_IDS, ids=lambda raw: f"{len(raw)}-chars")
@pytest.mark.parametrize("user", [ACME_ADMIN, SYSTEM_ADMIN])
async def test_retry_of_an_id_over_2_63_is_no_such_delivery(
    bot, tenants, state, caplog: pytest.LogCaptureFixture, delivery_id: str, user: str
) -> None:
    before = state()
    with caplog.at_level(logging.WARNING):
        answer = await bot.command(f"retry {delivery_id}", user=user)
    assert answer.status == 200
    assert answer.json["response_type"] == "ephemeral"
    message = answer.message
    assert "does not exist" in message and message.startswith(":warning: delivery ")
    assert "went wrong" not in message and "Traceback" not in message
    assert len(message) < 200  # a 5,000-digit id is not echoed back whole
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert state() == before


@pytest.mark.parametrize("argument", ["²", "١٢٣", "12x", "-5", "1e30"])
async def test_retry_of_something_that_is_not_an_ascii_number_says_so(
    bot, tenants, state, caplog: pytest.LogCaptureFixture, argument: str
) -> None:
    before = state()
    with caplog.at_level(logging.WARNING):
        answer = await bot.command(f"retry {argument}", user=ACME_ADMIN)
    assert answer.status == 200
    assert "is not a delivery id" in answer.message, answer.message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert state() == before
