"""Who may do what: refusals are clear, audited, and change nothing."""

from __future__ import annotations

import pytest

from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    GLOBEX_CHANNEL,
    STRANGER,
    SYSTEM_ADMIN,
    UNLINKED_CHANNEL,
)
from tests.support.slack_api import TEAM_ID

EVERY_COMMAND = [
    "status",
    "events",
    "enable queue_call_lost",
    "disable queue_call_lost",
    "recipients",
    "recipients add intruder@evil.example",
    "recipients remove ops@acme.org",
    "test ops@acme.org",
    "route all",
    "unroute all",
    "retry 1",
    "link globex",
    "unlink",
    "admins",
    f"admins add <@{STRANGER}>",
    f"admins remove <@{ACME_ADMIN}>",
]


@pytest.fixture
def configured(tenants, bot):
    """acme with a recipient, an enabled event and a route, so refusals have something to keep."""
    from core.services.audit import Actor
    from core.services.slack import add_routes, get_link
    from core.services.tenants import get_tenant
    from tests.support.factories import configure_tenant

    with tenants.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        configure_tenant(session, tenants.box, tenant, actor=Actor("setup", "cli"))
        link = get_link(session=session, team_id=TEAM_ID, channel_id=ACME_CHANNEL)
        add_routes(session=session, link=link, names=["queue_sla"], actor=Actor("setup", "cli"))
    return tenants


@pytest.mark.parametrize("text", EVERY_COMMAND)
@pytest.mark.parametrize(
    "user, channel",
    [
        pytest.param(STRANGER, ACME_CHANNEL, id="stranger"),
        pytest.param(GLOBEX_ADMIN, ACME_CHANNEL, id="other-tenants-admin"),
    ],
)
async def test_unauthorized_users_are_refused_audited_and_change_nothing(
    bot, configured, slack_api, state, audit, text, user, channel
) -> None:
    before = state()
    answer = await bot.command(text, user=user, channel=channel)
    assert answer.status == 200
    assert answer.json["response_type"] == "ephemeral"
    assert ":no_entry:" in answer.message and "Nothing was changed" in answer.message
    assert state() == before
    [refusal] = audit("slack.refused")
    assert refusal.actor == f"{user}@{TEAM_ID}" and refusal.source == "slack"
    assert refusal.target == f"/mailbell {text.split()[0]}"
    assert refusal.tenant == "acme"
    assert slack_api.posts() == [] and slack_api.responses(answer.response_url) == []


@pytest.mark.parametrize("text", ["link acme", "unlink"])
async def test_tenant_admins_cannot_link_channels(bot, configured, state, audit, text) -> None:
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN, channel=ACME_CHANNEL)
    assert "Only system admins" in answer.message
    answer = await bot.command(text, user=ACME_ADMIN, channel=UNLINKED_CHANNEL)
    assert "Only system admins" in answer.message
    assert state() == before
    assert len(audit("slack.refused")) == 2


async def test_tenant_admin_acts_in_own_channel_only(bot, configured, state) -> None:
    answer = await bot.command("status", user=GLOBEX_ADMIN, channel=GLOBEX_CHANNEL)
    assert "mailbell · globex" in answer.message
    before = state()
    answer = await bot.command("disable queue_call_lost", user=GLOBEX_ADMIN, channel=ACME_CHANNEL)
    assert ":no_entry:" in answer.message
    assert state() == before


async def test_system_admins_act_everywhere(bot, configured) -> None:
    for channel, slug in ((ACME_CHANNEL, "acme"), (GLOBEX_CHANNEL, "globex")):
        answer = await bot.command("status", user=SYSTEM_ADMIN, channel=channel)
        assert f"mailbell · {slug}" in answer.message


async def test_system_admin_added_by_cli_acts_everywhere(bot, configured, slack_cli) -> None:
    assert ":no_entry:" in (await bot.command("status", user="UCLIADMIN1")).message
    result = slack_cli("slack", "admin", "add", "UCLIADMIN1")
    assert result.code == 0, result.err
    assert "mailbell · acme" in (await bot.command("status", user="UCLIADMIN1")).message
    answer = await bot.command("link globex", user="UCLIADMIN1", channel=UNLINKED_CHANNEL)
    assert "now linked to tenant globex" in answer.message


async def test_another_workspace_is_another_channel(bot, configured, state) -> None:
    """The same channel id in another team is not linked; a team-bound admin is not admin there."""
    before = state()
    answer = await bot.command("status", user=SYSTEM_ADMIN, channel=ACME_CHANNEL, team="T0OTHER")
    assert "not linked" in answer.message
    answer = await bot.command("status", user=ACME_ADMIN, channel=ACME_CHANNEL, team="T0OTHER")
    assert ":no_entry:" in answer.message
    assert state() == before
