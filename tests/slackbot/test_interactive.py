"""The status buttons and `/mailbell test` (slow work answered through response_url)."""

from __future__ import annotations

from core.models.tenancy import NotificationSettingsUpdate
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.tenants import get_tenant
from slackbot.blocks.status import TOGGLE_ACTION_PREFIX
from tests.slackbot.conftest import ACME_ADMIN, ACME_CHANNEL, GLOBEX_ADMIN, STRANGER

LOST = TOGGLE_ACTION_PREFIX + "notify_queue_call_lost"


def _set(ctx, **changes):
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            changes=NotificationSettingsUpdate.parse(changes, system=False),
            actor=Actor("setup", "cli"),
        )


def _on(ctx, toggle="notify_queue_call_lost") -> bool:
    with ctx.session() as session:
        settings = get_notification_settings(
            session=session, tenant=get_tenant(session=session, slug="acme")
        )
    return settings.toggles[toggle]


def _button(blocks, action_id):
    return next(
        b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == action_id
    )


async def test_button_toggles_and_updates_the_ephemeral_status_in_place(
    bot, tenants, slack_api, audit
) -> None:
    _set(tenants, recipients="ops@acme.org")
    status = await bot.command("status", user=ACME_ADMIN)
    button = _button(status.json["blocks"], LOST)
    assert button["value"] == "on"
    answer = await bot.click(LOST, button["value"], user=ACME_ADMIN)
    assert answer.status == 200
    assert _on(tenants)
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url))
    [replaced] = slack_api.responses(answer.response_url)
    assert replaced["replace_original"] is True
    assert _button(replaced["blocks"], LOST)["value"] == "off"
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    assert slack_api.posts(ACME_CHANNEL)[0]["text"] == f"<@{ACME_ADMIN}> enabled queue_call_lost"
    assert audit("notification_settings.update")[0].actor.startswith(ACME_ADMIN)

    answer = await bot.click(LOST, "off", user=ACME_ADMIN)
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url))
    assert not _on(tenants)


async def test_button_on_a_posted_message_uses_chat_update(bot, tenants, slack_api) -> None:
    _set(tenants, recipients="ops@acme.org")
    answer = await bot.click(LOST, "on", user=ACME_ADMIN, message_ts="1700000000.000100")
    await slack_api.wait_for(slack_api.updates)
    [update] = slack_api.updates()
    assert update["channel"] == ACME_CHANNEL and update["ts"] == "1700000000.000100"
    assert _button(update["blocks"], LOST)["value"] == "off"
    assert slack_api.responses(answer.response_url) == []


async def test_button_refused_for_outsiders(bot, tenants, slack_api, state, audit) -> None:
    _set(tenants, recipients="ops@acme.org")
    for user in (STRANGER, GLOBEX_ADMIN):
        before = state()
        answer = await bot.click(LOST, "on", user=user)
        await slack_api.wait_for(lambda a=answer: slack_api.responses(a.response_url))
        [reply] = slack_api.responses(answer.response_url)
        assert ":no_entry:" in reply["text"] and reply.get("replace_original") is False
        assert state() == before
    assert len(audit("slack.refused")) == 2
    assert slack_api.posts() == []


async def test_button_validation_error_is_reported(bot, tenants, slack_api, state) -> None:
    before = state()  # no recipients: the event cannot be enabled
    answer = await bot.click(LOST, "on", user=ACME_ADMIN)
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url))
    [reply] = slack_api.responses(answer.response_url)
    assert "without recipients" in reply["text"]
    assert state() == before


async def test_test_email_answers_through_response_url(
    bot, tenants, slack_api, smtp_servers
) -> None:
    server = smtp_servers()
    _set(
        tenants,
        server="127.0.0.1",
        port=server.port,
        security="none",
        auth="DISABLE",
        mail_from="alerts@acme.org",
    )
    answer = await bot.command("test <mailto:ops@acme.org|ops@acme.org>", user=ACME_ADMIN)
    assert "Sending a test email to ops@acme.org" in answer.json["text"]
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url), timeout=10)
    [reply] = slack_api.responses(answer.response_url)
    assert reply["text"].startswith(":white_check_mark: Test email to ops@acme.org accepted")
    assert "250" in reply["text"]
    [message] = server.messages
    assert message.rcpt_tos == ["ops@acme.org"]


async def test_test_email_reports_the_failing_step(bot, tenants, slack_api) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _set(tenants, server="127.0.0.1", port=port, security="none", auth="DISABLE",
         mail_from="alerts@acme.org", timeout=3)  # fmt: skip
    answer = await bot.command("test ops@acme.org", user=ACME_ADMIN)
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url), timeout=10)
    [reply] = slack_api.responses(answer.response_url)
    assert reply["text"].startswith(":x: Test email to ops@acme.org failed at step *connect*")


async def test_test_email_when_not_configured(bot, tenants, slack_api) -> None:
    answer = await bot.command("test ops@acme.org", user=ACME_ADMIN)
    await slack_api.wait_for(lambda: slack_api.responses(answer.response_url))
    [reply] = slack_api.responses(answer.response_url)
    assert "has no mail server" in reply["text"]


async def test_test_email_invalid_address_is_answered_at_once(bot, tenants, slack_api) -> None:
    for text in ("test not-an-address", "test", "test a@acme.org b@acme.org"):
        answer = await bot.command(text, user=ACME_ADMIN)
        assert "not a valid email address" in answer.message or "Usage" in answer.message
    assert slack_api.responded == {}
