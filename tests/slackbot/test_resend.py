"""`/mailbell resend ID [ADDRESS]` through the real bolt app with signed requests, and the
`partial` status in `/mailbell status`."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.models.delivery import Delivery
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.vocabulary import DeliveryStatus
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    GLOBEX_CHANNEL,
    STRANGER,
    SYSTEM_ADMIN,
)
from tests.support.factories import emit_event
from tests.support.resend import RECIPIENTS, REFUSED, drain, three_recipients
from tests.support.smtp_handlers import FaultHandler

SETUP = Actor("setup", "cli")


@pytest.fixture
async def partial(tenants, smtp_servers) -> tuple[int, object]:
    """A QUEUE_CALL_LOST delivery of acme that reached a@ and c@ (b@ refused it for good)."""
    srv = smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": REFUSED}))
    with tenants.session() as session:
        acme = get_tenant(session=session, slug="acme")
        three_recipients(session, tenants, acme, SETUP, srv)
        [delivery] = emit_event(session, tenants.box, acme).deliveries
    await drain(tenants)
    return delivery.id, srv


def _copies(ctx, original: int) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).where(Delivery.resent_from == original)))


async def test_status_lists_a_partial_one_and_retry_points_at_resend(
    bot, tenants, partial, state
) -> None:
    delivery_id, _ = partial
    answer = await bot.command("status", user=ACME_ADMIN)
    assert f"`{delivery_id}` *partial* QUEUE_CALL_LOST" in answer.message
    assert "1 of 3 recipient(s) refused: b@acme.org: 550 5.1.1" in answer.message
    assert "`/mailbell resend ID`" in answer.message
    before = state()
    answer = await bot.command(f"retry {delivery_id}", user=ACME_ADMIN)
    assert f"delivery {delivery_id} is partial" in answer.message and "resend" in answer.message
    assert state() == before


async def test_admin_resends_to_an_address(bot, tenants, partial, slack_api, audit) -> None:
    delivery_id, srv = partial
    answer = await bot.command(f"resend #{delivery_id} b.fixed@acme.org", user=ACME_ADMIN)
    [copy] = _copies(tenants, delivery_id)
    assert f"Queued delivery {copy.id}, a copy of {delivery_id}" in answer.json["text"]
    assert (copy.target, copy.status) == ("b.fixed@acme.org", "queued")
    await drain(tenants)
    [_, again] = srv.handler.wait_for(2)
    assert again.rcpt_tos == ["b.fixed@acme.org"]
    announced = f"resent delivery {delivery_id} as {copy.id}"
    await slack_api.wait_for(
        lambda: any(announced in p["text"] for p in slack_api.posts(ACME_CHANNEL))
    )
    [entry] = audit("delivery.resend")
    assert (entry.source, entry.target, entry.fields) == (
        "slack",
        f"delivery:{delivery_id}",
        ["to"],
    )


async def test_resend_without_address_goes_to_its_recipients(bot, tenants, partial) -> None:
    delivery_id, _ = partial
    answer = await bot.command(f"resend {delivery_id}", user=SYSTEM_ADMIN)
    [copy] = _copies(tenants, delivery_id)
    assert f"Queued delivery {copy.id}" in answer.json["text"]
    assert copy.pending == RECIPIENTS


async def test_refusals_change_nothing(bot, tenants, partial, state) -> None:
    delivery_id, _ = partial
    before = state()
    for text, words in [
        ("resend", "Usage: `/mailbell resend DELIVERY_ID [ADDRESS]`"),
        ("resend abc", "not a delivery id"),
        (f"resend {delivery_id} not-an-address", "is not a valid email address"),
        ("resend 999999", "delivery 999999 does not exist"),
    ]:
        answer = await bot.command(text, user=ACME_ADMIN)
        assert words in answer.message, text
    # Another tenant's channel: the channel's tenant decides, not the user.
    for user in (GLOBEX_ADMIN, SYSTEM_ADMIN):
        answer = await bot.command(f"resend {delivery_id}", user=user, channel=GLOBEX_CHANNEL)
        assert f"delivery {delivery_id} does not exist" in answer.message
    answer = await bot.command(f"resend {delivery_id}", user=STRANGER)
    assert ":no_entry:" in answer.message
    assert state() == before
    assert _copies(tenants, delivery_id) == []
    with tenants.session() as session:
        assert session.get(Delivery, delivery_id).status == DeliveryStatus.PARTIAL


async def test_help_lists_resend(bot, tenants) -> None:
    answer = await bot.command("help", user=STRANGER)
    assert "resend DELIVERY_ID [ADDRESS]" in answer.message
