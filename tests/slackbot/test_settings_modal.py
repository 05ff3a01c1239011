"""`/mailbell settings`: the modal opens with the tenant's settings, a submit is authorized
again and checked whole (each problem on its block, nothing saved), a valid one is saved at
once and audited, and the test button emails the first recipient as typed."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from core.services.audit import Actor
from core.services.tenants import get_tenant
from slackbot.blocks.settings_modal import TEST_ACTION
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    GLOBEX_CHANNEL,
    STRANGER,
    SYSTEM_ADMIN,
)
from tests.support.factories import read_settings, set_settings
from tests.support.slack_modals import (
    block,
    context_text,
    initial,
    input_ids,
    opened,
    state_values,
)

SETUP = Actor("setup", "cli")
LOST = "digest_QUEUE_CALL_LOST"


def _prepare(ctx) -> None:
    set_settings(
        ctx,
        SETUP,
        "acme",
        recipients="ops@acme.org,oncall@acme.org",
        notify_queue_call_lost=True,
        **{"digest.QUEUE_CALL_LOST": "4/5m"},
    )


def _with_server(ctx, server):
    """acme sends through `server` (an aiosmtpd sink), to ops@acme.org."""
    set_settings(
        ctx,
        SETUP,
        "acme",
        server="127.0.0.1",
        port=server.port,
        security="none",
        auth="DISABLE",
        mail_from="alerts@acme.org",
        recipients="ops@acme.org",
    )
    return server


async def _open(bot, slack_api, user=ACME_ADMIN, channel=ACME_CHANNEL):
    answer = await bot.command("settings", user=user, channel=channel)
    assert answer.status == 200 and answer.text == ""  # acknowledged silently
    await slack_api.wait_for(lambda: slack_api.views("views.open"))
    return opened(slack_api)


async def test_settings_opens_the_modal_with_the_current_settings(bot, tenants, slack_api) -> None:
    _prepare(tenants)
    body = bot.requests.command_body("settings", user=ACME_ADMIN, channel=ACME_CHANNEL)
    trigger_id = parse_qs(body)["trigger_id"][0]
    answer = await bot.send(bot.requests.sign(body))
    assert answer.status == 200 and answer.text == ""
    await slack_api.wait_for(lambda: slack_api.views("views.open"))
    [call] = slack_api.views("views.open")
    assert call["trigger_id"] == trigger_id
    view = call["view"]
    assert view["type"] == "modal" and view["callback_id"] == "mailbell_settings"
    assert view["title"]["text"] == "mailbell · acme"
    # two addresses and three empty lines
    assert input_ids(view, "recipient_") == [f"recipient_{n}" for n in range(5)]
    assert [initial(view, f"recipient_{n}") for n in range(5)] == [
        "ops@acme.org",
        "oncall@acme.org",
        None,
        None,
        None,
    ]
    on = sorted(name for name, value in read_settings(tenants, "acme").toggles.items() if value)
    assert "notify_queue_call_lost" in on
    assert sorted(initial(view, "events")) == on
    options = block(view, "events")["element"]["options"]
    assert [o["value"] for o in options][:2] == [
        "notify_user_registration",
        "notify_queue_sla_breached",
    ]
    assert initial(view, LOST) == "4/5m"
    # one input per event that has digests; an event never set shows the operator's default
    assert input_ids(view, "digest_") == [
        "digest_USER_CREATION",
        "digest_QUEUE_SLA",
        "digest_QUEUE_CALLBACK",
        "digest_QUEUE_CALLBACK_FAILED",
        LOST,
    ]
    assert initial(view, "digest_QUEUE_SLA") == read_settings(tenants, "acme").digests["QUEUE_SLA"]
    assert block(view, "test")["elements"][0]["action_id"] == TEST_ACTION
    assert json.loads(view["private_metadata"])["channel"] == ACME_CHANNEL


async def test_no_checked_event_leaves_initial_options_out(bot, tenants, slack_api) -> None:
    set_settings(tenants, SETUP, "acme", notify_mail_health=False)
    view = await _open(bot, slack_api)
    assert "initial_options" not in block(view, "events")["element"]  # Slack refuses []
    assert input_ids(view, "recipient_") == ["recipient_0", "recipient_1", "recipient_2"]


async def test_outsiders_get_the_routers_refusal_and_no_modal(
    bot, tenants, slack_api, audit
) -> None:
    for user in (STRANGER, GLOBEX_ADMIN):
        answer = await bot.command("settings", user=user)
        assert ":no_entry:" in answer.json["text"]
    # the refusal is the ack itself: no follow-up was started that could open a modal later
    assert slack_api.views("views.open") == []
    assert len(audit("slack.refused")) == 2


async def test_a_bad_address_is_answered_on_its_block_and_nothing_changes(
    bot, tenants, slack_api, state, audit
) -> None:
    _prepare(tenants)
    view = await _open(bot, slack_api)
    before = state()
    values = state_values(
        view,
        {
            "recipient_2": "new@acme.org",  # valid, like everything but recipient_3
            "recipient_3": "not-an-address",
            "events": ["notify_queue_sla_breached"],
            LOST: "5/10m",
        },
    )
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    assert answer.status == 200
    assert answer.json["response_action"] == "errors"
    errors = answer.json["errors"]
    assert list(errors) == ["recipient_3"]
    assert "'not-an-address' is not a valid email address" in errors["recipient_3"]
    assert state() == before
    assert [e for e in audit("notification_settings.update") if e.actor != "setup"] == []


async def test_every_bad_field_is_named_at_once(bot, tenants, slack_api, state) -> None:
    _prepare(tenants)
    view = await _open(bot, slack_api)
    before = state()
    values = state_values(view, {"recipient_0": "a@@acme", LOST: "5/10x", "digest_QUEUE_SLA": "9"})
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    errors = answer.json["errors"]
    assert set(errors) == {"recipient_0", LOST, "digest_QUEUE_SLA"}
    assert "not a valid email address" in errors["recipient_0"]
    assert errors[LOST].startswith("'5/10x' must be AFTER/WINDOW")
    assert state() == before


async def test_a_rule_across_fields_is_refused_on_its_block(bot, tenants, slack_api, state) -> None:
    _prepare(tenants)  # queue_call_lost is on
    view = await _open(bot, slack_api)
    before = state()
    emptied = {f"recipient_{n}": "" for n in range(5)}
    answer = await bot.submit(view, state_values(view, emptied), user=ACME_ADMIN)
    assert "cannot be emptied while notify_queue_call_lost" in answer.json["errors"]["recipient_0"]
    no_recipients = {**emptied, "events": ["notify_queue_sla_breached", "notify_queue_call_lost"]}
    set_settings(tenants, SETUP, "acme", notify_queue_call_lost=False)
    before = state()
    answer = await bot.submit(view, state_values(view, no_recipients), user=ACME_ADMIN)
    assert "cannot be enabled without recipients" in answer.json["errors"]["events"]
    assert state() == before


async def test_a_valid_submit_saves_everything_audited_and_announced(
    bot, tenants, slack_api, audit
) -> None:
    _prepare(tenants)
    view = await _open(bot, slack_api)
    values = state_values(
        view,
        {
            "recipient_1": "",  # oncall@acme.org removed
            "recipient_2": "new@acme.org",
            "events": ["notify_queue_call_lost", "notify_queue_sla_breached"],
            LOST: "5 10m",  # as /mailbell digest takes it
        },
    )
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    assert answer.status == 200 and answer.text == ""  # no response_action: the modal closes
    settings = read_settings(tenants, "acme")
    assert settings.recipients == ["ops@acme.org", "new@acme.org"]
    assert settings.toggles["notify_queue_sla_breached"] is True
    assert settings.toggles["notify_mail_health"] is False  # unchecked in the form
    assert settings.digests["QUEUE_CALL_LOST"] == "5/10m"
    [entry] = [e for e in audit("notification_settings.update") if e.actor != "setup"]
    assert entry.actor.startswith(ACME_ADMIN)
    assert entry.tenant == "acme"
    assert set(entry.fields) == {
        "recipients",
        "notify_queue_sla_breached",
        "notify_mail_health",
        "digest.QUEUE_CALL_LOST",
    }
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    [post] = slack_api.posts(ACME_CHANNEL)
    assert post["text"] == (
        f"<@{ACME_ADMIN}> added new@acme.org to the recipients, removed oncall@acme.org from the "
        "recipients, enabled queue_sla_breached, disabled mail_health, set the digest of "
        "queue_call_lost to 5/10m (settings form)"
    )


async def test_a_submit_that_changes_nothing_saves_nothing(
    bot, tenants, slack_api, state, audit
) -> None:
    _prepare(tenants)
    view = await _open(bot, slack_api)
    before, entries = state(), len(audit())
    answer = await bot.submit(view, state_values(view), user=ACME_ADMIN)
    assert answer.status == 200 and answer.text == ""
    assert state() == before and len(audit()) == entries


async def test_another_tenants_admin_cannot_submit_it(
    bot, tenants, slack_api, state, audit
) -> None:
    _prepare(tenants)
    view = await _open(bot, slack_api)
    values = state_values(view, {"recipient_2": "intruder@globex.org"})
    before = state()
    answer = await bot.submit(view, values, user=GLOBEX_ADMIN)
    assert answer.json["response_action"] == "errors"
    assert answer.json["errors"]["recipient_0"].startswith(":no_entry: You may not")
    assert state() == before
    [refusal] = audit("slack.refused")
    assert refusal.actor.startswith(GLOBEX_ADMIN) and refusal.tenant == "acme"

    # private_metadata is no proof: pointed at globex (whose admin they are) from acme's
    # channel, the link no longer matches and nothing is saved either
    metadata = json.loads(view["private_metadata"])
    with tenants.session() as session:
        metadata["tenant_id"] = get_tenant(session=session, slug="globex").id
    forged = {**view, "private_metadata": json.dumps(metadata)}
    answer = await bot.submit(forged, values, user=GLOBEX_ADMIN)
    assert "no longer linked" in answer.json["errors"]["recipient_0"]
    assert state() == before
    assert slack_api.posts() == []


async def test_a_system_admin_may_submit_it(bot, tenants, slack_api) -> None:
    view = await _open(bot, slack_api, user=SYSTEM_ADMIN)
    answer = await bot.submit(
        view, state_values(view, {"recipient_0": "a@acme.org"}), user=SYSTEM_ADMIN
    )
    assert answer.text == ""
    assert read_settings(tenants, "acme").recipients == ["a@acme.org"]
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    assert slack_api.posts(GLOBEX_CHANNEL) == []


async def test_the_test_button_emails_the_typed_first_recipient(
    bot, tenants, slack_api, smtp_servers
) -> None:
    server = _with_server(tenants, smtp_servers())
    view = await _open(bot, slack_api)
    values = state_values(view, {"recipient_0": "typed@acme.org", LOST: "7/1h"})
    answer = await bot.view_click(
        view, TEST_ACTION, "test", user=ACME_ADMIN, values=values, block_id="test"
    )
    assert answer.status == 200
    await slack_api.wait_for(lambda: len(slack_api.views("views.update")) == 2, timeout=10)
    sending, done = slack_api.views("views.update")
    assert sending["view_id"] == view["id"] and sending["hash"] == view["hash"]
    assert "Sending a test email to typed@acme.org" in context_text(sending["view"], "test_result")
    assert done["view_id"] == view["id"] and done["hash"] != view["hash"]  # the new view's hash
    result = context_text(done["view"], "test_result")
    assert result.startswith(":white_check_mark: Test email to typed@acme.org accepted")
    assert "250" in result
    # what was typed stays in the form
    assert initial(done["view"], "recipient_0") == "typed@acme.org"
    assert initial(done["view"], LOST) == "7/1h"
    assert done["view"]["callback_id"] == "mailbell_settings"
    [message] = server.messages
    assert message.rcpt_tos == ["typed@acme.org"]
    assert read_settings(tenants, "acme").recipients == ["ops@acme.org"]  # nothing saved


async def test_the_test_button_falls_back_to_the_saved_recipient_and_reports_failures(
    bot, tenants, slack_api
) -> None:
    set_settings(tenants, SETUP, "acme", recipients="ops@acme.org")
    view = await _open(bot, slack_api)
    values = state_values(view, {"recipient_0": ""})
    await bot.view_click(view, TEST_ACTION, "test", user=ACME_ADMIN, values=values)
    await slack_api.wait_for(lambda: len(slack_api.views("views.update")) == 2, timeout=10)
    done = slack_api.views("views.update")[-1]["view"]
    assert "has no mail server" in context_text(done, "test_result")
    assert "ops@acme.org" in context_text(slack_api.views("views.update")[0]["view"], "test_result")


async def test_the_test_button_is_refused_to_outsiders(
    bot, tenants, slack_api, smtp_servers, audit
) -> None:
    server = _with_server(tenants, smtp_servers())
    view = await _open(bot, slack_api)
    await bot.view_click(view, TEST_ACTION, "test", user=STRANGER, values=state_values(view))
    await slack_api.wait_for(lambda: slack_api.views("views.update"))
    [update] = slack_api.views("views.update")
    assert context_text(update["view"], "test_result").startswith(":no_entry: You may not")
    assert server.messages == []
    [refusal] = audit("slack.refused")
    assert refusal.actor.startswith(STRANGER) and refusal.tenant == "acme"


async def test_off_turns_digests_off_and_an_emptied_policy_is_kept(
    bot, tenants, slack_api, audit
) -> None:
    _prepare(tenants)
    set_settings(tenants, SETUP, "acme", **{"digest.QUEUE_SLA": "2/1m"})
    view = await _open(bot, slack_api)
    values = state_values(view, {LOST: "off", "digest_QUEUE_SLA": ""})
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    assert answer.text == ""
    digests = read_settings(tenants, "acme").digests
    assert digests["QUEUE_CALL_LOST"] == "off" and digests["QUEUE_SLA"] == "2/1m"
    [entry] = [e for e in audit("notification_settings.update") if e.actor != "setup"]
    assert entry.fields == ["digest.QUEUE_CALL_LOST"]
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    assert slack_api.posts(ACME_CHANNEL)[0]["text"] == (
        f"<@{ACME_ADMIN}> turned digests of queue_call_lost off (settings form)"
    )


def test_the_modal_stays_inside_slacks_limits() -> None:
    from slackbot.blocks.settings_modal import settings_modal
    from slackbot.listeners.views.settings_form import digest_choices, event_choices

    many = [f"user{n}@acme.org" for n in range(15)]
    view = settings_modal(
        tenant="a-very-long-tenant-slug-indeed",
        tenant_id=7,
        channel_id=ACME_CHANNEL,
        recipients=many,
        events=event_choices(set()),
        digests=digest_choices({}),
    )
    assert len(view["title"]["text"]) <= 24 and view["title"]["text"].endswith("…")
    assert len(input_ids(view, "recipient_")) == 15  # MAX_RECIPIENTS, no empty line past it
    assert len(view["blocks"]) <= 100 and len(view["private_metadata"]) <= 3000
    assert initial(view, "digest_QUEUE_SLA") is None  # no policy known: no initial value
