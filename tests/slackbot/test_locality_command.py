"""`/mailbell timezone [ZONE | system]` and `/mailbell locale [LOCALE | system]` through the
real bolt app with signed requests: the channel's tenant's values, the system's in a channel
linked to no tenant (system admins), refusals naming the field."""

from __future__ import annotations

import pytest

from core.services.notifications import get_notification_settings
from core.services.tenants import get_tenant
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_CHANNEL,
    STRANGER,
    SYSTEM_ADMIN,
    UNLINKED_CHANNEL,
)
from tests.support.slack_api import TEAM_ID


def _read(ctx, slug: str | None):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        return get_notification_settings(session=session, tenant=tenant)


async def _announced(api, text, channel):
    await api.wait_for(lambda: any(text in p["text"] for p in api.posts(channel)))


async def test_a_tenant_admin_shows_sets_and_unsets(bot, tenants, slack_api, audit) -> None:
    answer = await bot.command("timezone", user=ACME_ADMIN)
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    assert "The time zone of acme: not set: its mail follows the system's, `UTC`" in answer.message
    assert "Dates read: Nov 3, 2026, 2:05 PM UTC" in answer.message
    assert "Change it with `/mailbell timezone Europe/Paris`, or `system`" in answer.message

    answer = await bot.command("timezone Europe/Paris", user=ACME_ADMIN)
    assert "You set the time zone of acme to Europe/Paris" in answer.message, answer.message
    answer = await bot.command("locale fr-FR", user=ACME_ADMIN)
    assert (
        "You set the locale of acme to fr_FR. Dates read: 3 nov. 2026, 15:05 CET" in answer.message
    )
    saved = _read(tenants, "acme")
    assert (saved.timezone, saved.locale) == ("Europe/Paris", "fr_FR")
    assert _read(tenants, "globex").timezone is None
    await _announced(
        slack_api, f"<@{ACME_ADMIN}> set the time zone of acme to Europe/Paris", ACME_CHANNEL
    )
    entries = audit("notification_settings.update")
    assert sorted(e.fields for e in entries) == [["locale"], ["timezone"]]
    assert {(e.actor, e.source, e.tenant) for e in entries} == {
        (f"{ACME_ADMIN}@{TEAM_ID}", "slack", "acme")
    }

    answer = await bot.command("timezone", user=ACME_ADMIN)
    assert "The time zone of acme: `Europe/Paris`" in answer.message
    # the same value again: nothing changes, nothing is audited
    answer = await bot.command("timezone Europe/Paris", user=ACME_ADMIN)
    assert "Nothing to change" in answer.message
    assert len(audit("notification_settings.update")) == 2

    answer = await bot.command("timezone system", user=ACME_ADMIN)
    assert "You unset the time zone of acme: its mail follows the system's, UTC" in answer.message
    assert _read(tenants, "acme").timezone is None


async def test_the_system_admin_sets_the_systems_and_tenants_follow(bot, tenants) -> None:
    answer = await bot.command("timezone Asia/Tokyo", user=SYSTEM_ADMIN, channel=GLOBEX_CHANNEL)
    assert "You set the time zone of globex to Asia/Tokyo" in answer.message  # the channel's tenant
    answer = await bot.command("locale", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "The locale of the system: `en_US` (tenants that set none follow it)" in answer.message
    answer = await bot.command(
        "timezone America/New_York", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL
    )
    assert "You set the time zone of the system to America/New_York" in answer.message
    acme, globex = _read(tenants, "acme"), _read(tenants, "globex")
    assert (acme.timezone, acme.effective_timezone) == (None, "America/New_York")
    assert globex.effective_timezone == "Asia/Tokyo"
    answer = await bot.command("timezone", user=ACME_ADMIN)
    assert "not set: its mail follows the system's, `America/New_York`" in answer.message
    assert "Dates read: Nov 3, 2026, 9:05 AM EST" in answer.message
    # the system's `default` is UTC again, never unset
    answer = await bot.command("timezone default", user=SYSTEM_ADMIN, channel=UNLINKED_CHANNEL)
    assert "You set the time zone of the system to UTC" in answer.message
    assert _read(tenants, None).timezone == "UTC"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timezone Mars/Olympus", "timezone: 'Mars/Olympus' is not an IANA time zone name"),
        ("locale xx_YY", "locale: 'xx_YY' is not a known locale"),
        ("locale english", "locale: 'english' is not a locale"),
        ("timezone Europe/Paris extra", "Usage: `/mailbell timezone [ZONE | system]"),
    ],
)
async def test_bad_values_change_nothing(bot, tenants, state, text, expected) -> None:
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN)
    assert expected in answer.message, answer.message
    assert "Traceback" not in answer.message
    assert state() == before


async def test_the_commands_are_for_admins(bot, tenants, state, audit) -> None:
    before = state()
    answer = await bot.command("timezone Europe/Paris", user=STRANGER)
    assert ":no_entry:" in answer.message
    # a tenant's admin may not set the system's from a channel linked to no tenant
    answer = await bot.command("locale de_DE", user=ACME_ADMIN, channel=UNLINKED_CHANNEL)
    assert ":no_entry:" in answer.message
    assert state() == before
    targets = sorted(r.target for r in audit("slack.refused"))
    assert targets == ["/mailbell locale", "/mailbell timezone"]


async def test_help_lists_both(bot, tenants) -> None:
    answer = await bot.command("help", user=STRANGER)
    assert "timezone [ZONE|system]" in answer.message
    assert "locale [LOCALE|system]" in answer.message
