"""`/mailbell webhook list|add|remove|test` through the real bolt app: who may, what changes, what
is never echoed; one event through the worker to a real receiver, seen in `/mailbell status`."""

from __future__ import annotations

import pytest

from core.models.delivery import Delivery
from core.pipeline.worker import Worker
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.services.webhooks import list_webhooks
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    STRANGER,
    SYSTEM_ADMIN,
    UNLINKED_CHANNEL,
)
from tests.support.factories import configure_tenant, emit_event, make_webhook
from tests.support.receiver_thread import webhook_receiver

SETUP = Actor("setup", "cli")
SECRET = "never-typed-into-slack"


def _hooks(ctx, slug="acme"):
    with ctx.session() as session:
        return list_webhooks(session=session, tenant=get_tenant(session=session, slug=slug))


def _add(ctx, url, slug="acme", secret=None):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        return make_webhook(session, ctx.box, tenant, url, secret=secret, actor=SETUP)


async def test_tenant_admin_adds_lists_and_removes(bot, tenants, slack_api, audit) -> None:
    with webhook_receiver() as receiver:  # a local URL: inside the tests' tenant fence
        added = await bot.command(f"webhook add {receiver.url} queue_call_lost", user=ACME_ADMIN)
    assert "added webhook" in added.json["text"] and "unsigned" in added.json["text"]
    [hook] = _hooks(tenants)
    assert (hook.url, hook.events, hook.has_secret) == (receiver.url, ["QUEUE_CALL_LOST"], False)
    await slack_api.wait_for(
        lambda: any(f"added webhook {hook.id}" in p["text"] for p in slack_api.posts(ACME_CHANNEL))
    )
    listed = await bot.command("webhook list", user=ACME_ADMIN)
    assert f"`{hook.id}`" in listed.json["text"] and "QUEUE_CALL_LOST" in listed.json["text"]
    removed = await bot.command(f"webhook remove {hook.id}", user=ACME_ADMIN)
    assert f"removed webhook {hook.id}" in removed.json["text"]
    assert _hooks(tenants) == []
    entries = [(e.action, e.source, e.actor) for e in audit() if e.action.startswith("webhook.")]
    assert any(
        a == "webhook.create" and s == "slack" and ACME_ADMIN in who for a, s, who in entries
    )
    assert any(a == "webhook.delete" and s == "slack" for a, s, _ in entries)


async def test_a_tenant_admins_url_is_fenced_a_system_admins_is_not(bot, tenants, state) -> None:
    before = state()
    refused = await bot.command("webhook add https://hooks.example.org/x", user=ACME_ADMIN)
    assert "url" in refused.message and "hooks.example.org" in refused.message
    assert state() == before
    allowed = await bot.command("webhook add https://hooks.example.org/x", user=SYSTEM_ADMIN)
    assert "added webhook" in allowed.json["text"]
    assert [h.url for h in _hooks(tenants)] == ["https://hooks.example.org/x"]


@pytest.mark.parametrize("text", [f"secret={SECRET}", f"secret:{SECRET}"])
async def test_a_secret_is_refused_and_never_echoed(bot, tenants, state, slack_api, text) -> None:
    before = state()
    answer = await bot.command(f"webhook add https://hooks.example.org/x {text}", user=SYSTEM_ADMIN)
    assert "never typed into Slack" in answer.message
    assert SECRET not in answer.text
    assert state() == before
    assert all(SECRET not in str(call.body) for call in slack_api.calls)


@pytest.mark.parametrize(
    ("user", "channel"),
    [(STRANGER, ACME_CHANNEL), (GLOBEX_ADMIN, ACME_CHANNEL), (ACME_ADMIN, UNLINKED_CHANNEL)],
)
async def test_others_are_refused_and_nothing_changes(bot, tenants, state, user, channel) -> None:
    before = state()
    answer = await bot.command(
        "webhook add https://hooks.example.org/x", user=user, channel=channel
    )
    assert ":no_entry:" in answer.json["text"]
    assert state() == before


@pytest.mark.parametrize("action", ["remove", "test"])
async def test_another_tenants_or_unknown_id_does_not_exist(bot, tenants, state, action) -> None:
    foreign = _add(tenants, "https://hooks.example.org/globex", slug="globex")
    before = state()
    for ident in (str(foreign.id), "999", "2147483648", "9" * 30, "abc"):
        answer = await bot.command(f"webhook {action} {ident}", user=ACME_ADMIN)
        expected = "not a webhook id" if ident == "abc" else "does not exist"
        assert expected in answer.message
    assert state() == before


async def test_test_answers_through_response_url_with_a_signed_post(
    bot, tenants, slack_api
) -> None:
    with webhook_receiver(SECRET) as receiver:
        hook = _add(tenants, receiver.url, secret=SECRET)
        answer = await bot.command(f"webhook test {hook.id}", user=ACME_ADMIN)
        assert "Sending a test event" in answer.json["text"]
        await slack_api.wait_for(lambda: slack_api.responses(answer.response_url), timeout=30)
        [post] = receiver.wait_for(1)
    [reply] = slack_api.responses(answer.response_url)
    assert f"Webhook {hook.id} answered 200" in reply["text"]
    assert post.verified is True and post.json["tenant"] == "acme"
    assert SECRET not in reply["text"]


async def test_an_event_goes_through_the_worker_and_shows_in_status(bot, tenants) -> None:
    with tenants.session() as session:
        configure_tenant(session, tenants.box, get_tenant(session=session, slug="acme"))
    with webhook_receiver(answers=[410, 200]) as receiver:
        added = await bot.command(f"webhook add {receiver.url}", user=ACME_ADMIN)
        assert "added webhook" in added.json["text"]
        with tenants.session() as session:
            acme = get_tenant(session=session, slug="acme")
            result = emit_event(session, tenants.box, acme)
            [delivery_id] = [d.id for d in result.deliveries if d.channel == "webhook"]
        worker = Worker(tenants)
        try:
            await worker.run_once()
            [refused] = receiver.wait_for(1)
            with tenants.session() as session:
                assert session.get(Delivery, delivery_id).status == "failed"  # 410: permanent
            status = await bot.command("status", user=ACME_ADMIN)
            assert f"`{delivery_id}` QUEUE_CALL_LOST → webhook" in status.message
            retried = await bot.command(f"retry {delivery_id}", user=ACME_ADMIN)
            assert f"Queued delivery {delivery_id}" in retried.json["text"]
            await worker.run_once()
            [_, accepted] = receiver.wait_for(2)
        finally:
            await worker.close()
    with tenants.session() as session:
        assert session.get(Delivery, delivery_id).status == "sent"
    assert refused.verified is None and "X-Mailbell-Signature" not in refused.headers
    assert "X-Mailbell-Timestamp" in accepted.headers
    assert (
        accepted.json["delivery_id"] == delivery_id and accepted.json["event"] == "QUEUE_CALL_LOST"
    )
