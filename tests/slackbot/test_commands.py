"""Each subcommand changes exactly what it says, answers ephemerally, and announces changes."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.models.delivery import Delivery
from core.models.slack import SlackChannelLink, SlackRoute, SlackTenantAdmin
from core.models.tenancy import TENANT_TOGGLES, NotificationSettingsUpdate
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.slack import get_link, list_routes
from core.services.tenants import get_tenant
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_CHANNEL,
    SYSTEM_ADMIN,
    UNLINKED_CHANNEL,
)
from tests.support.factories import emit_event
from tests.support.slack_api import TEAM_ID


def _settings(ctx, slug="acme"):
    with ctx.session() as session:
        return get_notification_settings(
            session=session, tenant=get_tenant(session=session, slug=slug)
        )


def _set(ctx, slug="acme", **changes):
    from core.services.audit import Actor

    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug=slug),
            changes=NotificationSettingsUpdate.parse(changes, system=False),
            actor=Actor("setup", "cli"),
        )


def _routes(ctx, channel=ACME_CHANNEL):
    with ctx.session() as session:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=channel)
        return list_routes(session=session, link=link) if link else None


async def _announced(api, text, channel=ACME_CHANNEL):
    await api.wait_for(lambda: any(text in p["text"] for p in api.posts(channel)))


async def test_status_shows_settings_without_secrets(bot, tenants, slack_api) -> None:
    _set(
        tenants,
        server="smtp.acme.org",
        username="alerts@acme.org",
        password="hunter2-secret",
        recipients="ops@acme.org",
        notify_queue_call_lost=True,
    )
    answer = await bot.command("status", user=ACME_ADMIN)
    text = answer.text
    assert answer.json["response_type"] == "ephemeral"
    assert "smtp.acme.org" in text and "ops@acme.org" in text
    assert "hunter2" not in text and "password" not in text.lower()
    assert "0 waiting" in text and "No failed deliveries" in text
    buttons = [b["accessory"] for b in answer.json["blocks"] if "accessory" in b]
    assert len(buttons) == len(TENANT_TOGGLES)  # one per tenant event switch
    lost = next(b for b in buttons if b["action_id"].endswith("notify_queue_call_lost"))
    assert lost["value"] == "off" and lost["text"]["text"] == "Disable"


async def test_status_says_when_not_configured(bot, tenants) -> None:
    answer = await bot.command("status", user=ACME_ADMIN)
    assert "not configured" in answer.message


async def test_enable_and_disable_several_events(bot, tenants, slack_api, audit) -> None:
    _set(tenants, recipients="ops@acme.org")
    answer = await bot.command(
        "enable queue_call_lost QUEUE_SLA notify_queue_callback", user=ACME_ADMIN
    )
    assert answer.status == 200 and "Enabled" in answer.json["text"]
    after = _settings(tenants)
    assert after.toggles["notify_queue_call_lost"] and after.toggles["notify_queue_sla_breached"]
    assert after.toggles["notify_queue_callback"]
    assert (
        not after.toggles["notify_user_registration"]
        and not after.toggles["notify_queue_callback_failed"]
    )
    await _announced(slack_api, f"<@{ACME_ADMIN}> enabled queue_call_lost")
    assert _settings(tenants, "globex").toggles["notify_queue_call_lost"] is False
    entry = audit("notification_settings.update")[0]
    assert entry.actor == f"{ACME_ADMIN}@{TEAM_ID}" and entry.source == "slack"
    assert entry.tenant == "acme"

    answer = await bot.command("disable queue_sla", user=ACME_ADMIN)
    assert "Disabled queue_sla_breached" in answer.json["text"]
    after = _settings(tenants)
    assert (
        not after.toggles["notify_queue_sla_breached"] and after.toggles["notify_queue_call_lost"]
    )
    await _announced(slack_api, f"<@{ACME_ADMIN}> disabled queue_sla_breached")


async def test_enable_unknown_event_lists_valid_names_and_changes_nothing(
    bot, tenants, state
) -> None:
    _set(tenants, recipients="ops@acme.org")
    before = state()
    answer = await bot.command("enable queue_call_lost queue_exploded", user=ACME_ADMIN)
    assert "unknown event 'queue_exploded'" in answer.message
    assert "queue_call_lost" in answer.message and "user_registration" in answer.message
    assert state() == before


async def test_enable_always_on_or_system_event_is_refused(bot, tenants, state) -> None:
    _set(tenants, recipients="ops@acme.org")
    before = state()
    answer = await bot.command("enable voicemail_received", user=ACME_ADMIN)
    assert "always on" in answer.message
    answer = await bot.command("enable disk_low", user=SYSTEM_ADMIN)
    assert "system event" in answer.message
    assert state() == before


async def test_enable_without_recipients_is_refused(bot, tenants, state) -> None:
    before = state()
    answer = await bot.command("enable queue_call_lost", user=ACME_ADMIN)
    assert "without recipients" in answer.message
    assert state() == before


async def test_events_lists_every_event(bot, tenants) -> None:
    _set(tenants, recipients="ops@acme.org", notify_queue_sla_breached=True)
    await bot.command("route queue_call_lost", user=ACME_ADMIN)
    answer = await bot.command("events", user=ACME_ADMIN)
    text = answer.message
    assert "`queue_sla_breached` (QUEUE_SLA) — on" in text
    assert "`queue_callback` (QUEUE_CALLBACK) — off" in text
    assert "`voicemail_received` (VOICEMAIL_RECEIVED) — always on" in text
    assert "`queue_call_lost` (QUEUE_CALL_LOST) — off · :speech_balloon: mirrored here" in text
    assert "DISK_LOW" in text


async def test_recipients_add_remove_and_list(bot, tenants, slack_api) -> None:
    answer = await bot.command(
        "recipients add <mailto:ops@acme.org|ops@acme.org>, noc@acme.org", user=ACME_ADMIN
    )
    assert "Added ops@acme.org, noc@acme.org" in answer.json["text"]
    assert _settings(tenants).recipients == ["ops@acme.org", "noc@acme.org"]
    await _announced(slack_api, "added ops@acme.org, noc@acme.org to the notification recipients")
    answer = await bot.command("recipients remove ops@acme.org", user=ACME_ADMIN)
    assert _settings(tenants).recipients == ["noc@acme.org"]
    answer = await bot.command("recipients", user=ACME_ADMIN)
    assert answer.json["text"] == "Recipients of acme: noc@acme.org"
    assert _settings(tenants, "globex").recipients == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("recipients add not-an-address", "is not a valid email address"),
        ("recipients add ok@acme.org bad@@acme.org", "is not a valid email address"),
        ("recipients remove nobody", "is not a valid email address"),
        ("recipients remove other@acme.org", "is not a recipient"),
        ("recipients add " + " ".join(f"u{i}@acme.org" for i in range(16)), "at most 15"),
        ("recipients frob a@acme.org", "Usage"),
    ],
)
async def test_invalid_recipients_change_nothing(bot, tenants, state, text, expected) -> None:
    _set(tenants, recipients="ops@acme.org")
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN)
    assert answer.status == 200 and expected in answer.message
    assert state() == before


async def test_removing_the_last_recipient_of_an_enabled_event_is_refused(
    bot, tenants, state
) -> None:
    _set(tenants, recipients="ops@acme.org", notify_queue_call_lost=True)
    before = state()
    answer = await bot.command("recipients remove ops@acme.org", user=ACME_ADMIN)
    assert "disable it first" in answer.message
    assert state() == before


async def test_route_and_unroute(bot, tenants, slack_api) -> None:
    answer = await bot.command("route queue_call_lost queue_sla", user=ACME_ADMIN)
    assert "mirrors: queue_call_lost, queue_sla_breached" in answer.json["text"]
    assert _routes(tenants) == ["QUEUE_CALL_LOST", "QUEUE_SLA"]
    await _announced(slack_api, "set this channel to mirror queue_call_lost, queue_sla_breached")
    await bot.command("unroute queue_sla", user=ACME_ADMIN)
    assert _routes(tenants) == ["QUEUE_CALL_LOST"]
    await bot.command("route all", user=ACME_ADMIN)
    assert _routes(tenants) == ["*"]
    await bot.command("unroute queue_callback", user=ACME_ADMIN)
    routes = _routes(tenants)
    assert "QUEUE_CALLBACK" not in routes and "QUEUE_CALL_LOST" in routes and "*" not in routes
    answer = await bot.command("unroute all", user=ACME_ADMIN)
    assert _routes(tenants) == []
    assert _routes(tenants, GLOBEX_CHANNEL) == []


async def test_system_events_are_routed_by_system_admins_only(bot, tenants, state) -> None:
    before = state()
    answer = await bot.command("route disk_low", user=ACME_ADMIN)
    assert "system event" in answer.message
    assert state() == before
    await bot.command("route disk_low", user=SYSTEM_ADMIN)
    assert _routes(tenants) == ["DISK_LOW"]


async def test_unknown_route_names_change_nothing(bot, tenants, state) -> None:
    before = state()
    answer = await bot.command("route queue_call_lost nonsense", user=ACME_ADMIN)
    assert "unknown event 'nonsense'" in answer.message
    assert state() == before


def _failed_delivery(ctx, slug):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        [emitted] = emit_event(session, ctx.box, tenant, "VOICEMAIL_RECEIVED").deliveries
        delivery = session.get(Delivery, emitted.id)
        delivery.status, delivery.last_error = "failed", "[data] 554 5.7.1 rejected"
        session.add(delivery)
        session.commit()
        return delivery.id


async def test_retry_a_failed_delivery(bot, tenants, slack_api) -> None:
    _set(tenants, server="smtp.acme.org", username="alerts@acme.org")
    delivery_id = _failed_delivery(tenants, "acme")
    answer = await bot.command(f"retry {delivery_id}", user=ACME_ADMIN)
    assert f"Queued delivery {delivery_id}" in answer.json["text"]
    with tenants.session() as session:
        assert session.get(Delivery, delivery_id).status == "queued"
    await _announced(slack_api, f"queued delivery {delivery_id}")


@pytest.mark.parametrize("arg", ["abc", "999999"])
async def test_retry_bad_ids(bot, tenants, state, arg) -> None:
    before = state()
    answer = await bot.command(f"retry {arg}", user=ACME_ADMIN)
    assert ("not a delivery id" if arg == "abc" else "does not exist") in answer.message
    assert state() == before


async def test_retry_cannot_reach_another_tenants_delivery(bot, tenants, state) -> None:
    delivery_id = _failed_delivery(tenants, "globex")
    before = state()
    answer = await bot.command(f"retry {delivery_id}", user=SYSTEM_ADMIN, channel=ACME_CHANNEL)
    assert "does not exist" in answer.message
    assert state() == before


async def test_link_relink_and_unlink(bot, tenants, slack_api, audit) -> None:
    answer = await bot.command("link globex", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "now linked to tenant globex" in answer.json["text"]
    await _announced(slack_api, "linked this channel to tenant globex", UNLINKED_CHANNEL)
    await bot.command("route queue_sla", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    answer = await bot.command("link acme", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "was globex" in answer.json["text"]
    with tenants.session() as session:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=UNLINKED_CHANNEL)
        assert link.tenant_id == get_tenant(session=session, slug="acme").id
        assert list_routes(session=session, link=link) == []
    answer = await bot.command("link nosuch", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "does not exist" in answer.message
    await bot.command("unlink", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert _routes(tenants, UNLINKED_CHANNEL) is None
    mine = [e.action for e in audit() if e.actor == f"{SYSTEM_ADMIN}@{TEAM_ID}"]
    assert mine == ["slack.unlink", "slack.link", "slack.route", "slack.link"]


async def test_admins_add_list_remove(bot, tenants, slack_api) -> None:
    new = "UNEWADMIN1"
    refused = await bot.command("status", user=new)
    assert ":no_entry:" in refused.message
    answer = await bot.command(f"admins add <@{new}|newbie>", user=ACME_ADMIN)
    assert f"made <@{new}> a mailbell admin of acme" in answer.json["text"]
    await _announced(slack_api, f"<@{ACME_ADMIN}> made <@{new}> a mailbell admin of acme")
    assert ":no_entry:" not in (await bot.command("status", user=new)).message
    listing = await bot.command("admins", user=new)
    assert f"<@{new}>" in listing.json["text"] and f"<@{SYSTEM_ADMIN}>" in listing.json["text"]
    # acme's admins are not globex's
    assert ":no_entry:" in (await bot.command("status", user=new, channel=GLOBEX_CHANNEL)).message
    await bot.command(f"admins remove <@{new}>", user=SYSTEM_ADMIN)
    assert ":no_entry:" in (await bot.command("status", user=new)).message
    with tenants.session() as session:
        assert (
            session.exec(select(SlackTenantAdmin).where(SlackTenantAdmin.user_id == new)).all()
            == []
        )


async def test_admins_bad_user(bot, tenants, state) -> None:
    before = state()
    answer = await bot.command("admins add someone", user=ACME_ADMIN)
    assert "is not a Slack user" in answer.message
    answer = await bot.command(f"admins add <@{ACME_ADMIN}>", user=ACME_ADMIN)
    assert "already" in answer.message
    assert state() == before


async def test_commands_in_an_unlinked_channel(bot, tenants, state, audit) -> None:
    before = state()
    answer = await bot.command("status", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "not linked to a tenant" in answer.message and "/mailbell link TENANT" in answer.message
    answer = await bot.command("enable queue_call_lost", user=ACME_ADMIN, channel=UNLINKED_CHANNEL)
    assert ":no_entry:" in answer.message and "not linked" in answer.message
    assert state() == before
    assert len(audit("slack.refused")) == 1
    with tenants.session() as session:
        assert len(session.exec(select(SlackChannelLink)).all()) == 2
        assert session.exec(select(SlackRoute)).all() == []
