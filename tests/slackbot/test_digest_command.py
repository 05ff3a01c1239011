"""`/mailbell digest [EVENT [AFTER WINDOW | off]]` through the real bolt app with signed
requests, and what `/mailbell status` says about the tenant's `use_system_server` switch."""

from __future__ import annotations

import pytest

from core.models.tenancy import NotificationSettingsUpdate
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.tenants import get_tenant
from tests.slackbot.conftest import ACME_ADMIN, GLOBEX_CHANNEL, STRANGER, SYSTEM_ADMIN
from tests.support.slack_api import TEAM_ID

SETUP = Actor("setup", "cli")


def _digests(ctx, slug="acme") -> dict[str, str]:
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        return get_notification_settings(session=session, tenant=tenant).digests


def _set(ctx, slug: str | None, **changes) -> None:
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug=slug) if slug else None,
            changes=NotificationSettingsUpdate.parse(changes, system=slug is None),
            actor=SETUP,
        )


async def _announced(api, text, channel):
    await api.wait_for(lambda: any(text in p["text"] for p in api.posts(channel)))


async def test_an_admin_sets_shows_and_turns_off_a_digest(bot, tenants, slack_api, audit) -> None:
    from tests.slackbot.conftest import ACME_CHANNEL

    answer = await bot.command("digest queue_call_lost 5 10m", user=ACME_ADMIN)
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    assert "`queue_call_lost` — 5/10m: the first 5 events of a 10m window" in answer.message
    assert _digests(tenants)["QUEUE_CALL_LOST"] == "5/10m"
    assert _digests(tenants, "globex")["QUEUE_CALL_LOST"] == "off"
    await _announced(
        slack_api, f"<@{ACME_ADMIN}> set the digest of queue_call_lost to 5/10m", ACME_CHANNEL
    )
    [entry] = audit("notification_settings.update")
    assert (entry.actor, entry.source, entry.tenant) == (f"{ACME_ADMIN}@{TEAM_ID}", "slack", "acme")
    assert entry.fields == ["digest.QUEUE_CALL_LOST"]

    answer = await bot.command("digest QUEUE_CALL_LOST", user=ACME_ADMIN)
    assert "`queue_call_lost` — 5/10m" in answer.message
    answer = await bot.command("digest", user=ACME_ADMIN)
    assert "`queue_call_lost` — 5/10m" in answer.message
    assert "`queue_sla_breached` — off" in answer.message
    assert "`user_registration` — off" in answer.message
    assert "voicemail" not in answer.message

    # the same policy again changes nothing and announces nothing
    answer = await bot.command("digest queue_call_lost 5/10m", user=ACME_ADMIN)
    assert "Nothing to change" in answer.message
    assert len(audit("notification_settings.update")) == 1

    answer = await bot.command("digest queue_call_lost off", user=ACME_ADMIN)
    assert "every event is sent on its own" in answer.message
    assert _digests(tenants)["QUEUE_CALL_LOST"] == "off"
    await _announced(
        slack_api, f"<@{ACME_ADMIN}> turned digests of queue_call_lost off", ACME_CHANNEL
    )


async def test_a_system_admin_sets_the_digest_of_the_channels_tenant(bot, tenants) -> None:
    answer = await bot.command("digest queue_sla 2 1h", user=SYSTEM_ADMIN, channel=GLOBEX_CHANNEL)
    assert "2/1h" in answer.message
    assert _digests(tenants, "globex")["QUEUE_SLA"] == "2/1h"
    assert _digests(tenants)["QUEUE_SLA"] == "off"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest queue_call_lost 5 10x", "digest.QUEUE_CALL_LOST: '5/10x' must be AFTER/WINDOW"),
        ("digest queue_call_lost 2000 10m", "digest.QUEUE_CALL_LOST: '2000/10m' must be"),
        ("digest queue_call_lost soon", "digest.QUEUE_CALL_LOST: 'soon' must be AFTER/WINDOW"),
        ("digest voicemail_received 3 10m", "event: voicemail_received has no digests"),
        ("digest disk_low", "event: disk_low has no digests"),
        ("digest queue_exploded 3 10m", "unknown event 'queue_exploded'"),
        ("digest queue_call_lost 3 10m extra", "Usage: `/mailbell digest"),
    ],
)
async def test_bad_digest_commands_change_nothing(bot, tenants, state, text, expected) -> None:
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN)
    assert expected in answer.message, answer.message
    assert "Traceback" not in answer.message
    assert state() == before


async def test_the_digest_command_is_for_admins(bot, tenants, state, audit) -> None:
    before = state()
    answer = await bot.command("digest queue_call_lost 5 10m", user=STRANGER)
    assert ":no_entry:" in answer.message
    assert state() == before
    [refusal] = audit("slack.refused")
    assert refusal.target == "/mailbell digest"


async def test_help_lists_the_digest_command(bot, tenants) -> None:
    answer = await bot.command("help", user=STRANGER)
    assert "digest [EVENT [AFTER WINDOW|off]]" in answer.message


async def test_status_says_what_the_system_server_switch_does(bot, tenants) -> None:
    _set(tenants, None, server="mail.example.net", auth="DISABLE", mail_from="ops@example.net")
    _set(tenants, "acme", server="smtp.acme.org", auth="DISABLE", mail_from="pbx@acme.org")
    _set(tenants, "acme", use_system_server=True)
    text = (await bot.command("status", user=ACME_ADMIN)).message
    assert "smtp.acme.org" in text and "the tenant's own" in text
    assert (
        "use_system_server is on, but the system does not apply its mail settings to all "
        "tenants: the tenant's own server sends its mail" in text
    )
    _set(tenants, None, apply_to_all_tenants=True)
    text = (await bot.command("status", user=ACME_ADMIN)).message
    assert "mail.example.net" in text and "the system server" in text
    assert "use_system_server is on: the system's server sends this tenant's mail" in text
    _set(tenants, "acme", use_system_server=False)
    text = (await bot.command("status", user=ACME_ADMIN)).message
    assert "smtp.acme.org" in text and "use_system_server" not in text
