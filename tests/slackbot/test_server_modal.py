"""`/mailbell server`: the default mail server in a modal, saved by the core's rules, tested
through a real aiosmtpd (STARTTLS + AUTH), through the real bolt app and the Web API stand-in."""

from __future__ import annotations

import json

from sqlmodel import select

from core.models.mail import MailServer, MailServerCreate
from core.services.audit import Actor
from core.services.mail_servers import create_mail_server
from core.services.tenants import get_tenant
from core.vocabulary import SECURITY_LABELS, SecurityMode
from slackbot.blocks.server_modal import PASSWORD_HINT, PRESET_ACTION, TEST_ACTION, TEST_RESULT
from tests.slackbot.conftest import ACME_ADMIN, ACME_CHANNEL, GLOBEX_ADMIN, STRANGER, SYSTEM_ADMIN
from tests.support.slack_api import TEAM_ID
from tests.support.slack_modals import block, initial, opened, state_values
from tests.support.unsaved_settings import FROM, RIGHT, USER, WRONG

STORED = "Stored-Secret-42"
SMTP_WAIT_S = 30  # a connection test on a loaded CI machine


def _add_server(ctx, **fields):
    """acme's default server, made by a system-level actor (it may name a CA file)."""
    data = {
        "name": "main",
        "host": "smtp.acme.example",
        "port": 587,
        "security": "starttls",
        "auth": "PLAIN",
        "username": USER,
        "password": STORED,
        "mail_from": FROM,
        **fields,
    }
    with ctx.session() as session:
        return create_mail_server(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            data=MailServerCreate.from_fields(data),
            actor=Actor("setup", "cli"),
        )


def _stored(ctx) -> dict:
    with ctx.session() as session:
        row = session.exec(select(MailServer)).one()
        password = ctx.box.decrypt(row.password_enc) if row.password_enc else None
        return {**row.model_dump(exclude={"password_enc"}), "password": password}


def _everything_sent(slack_api) -> str:
    return json.dumps([call.body for call in slack_api.calls])


def _tenant_id(ctx, slug: str) -> int:
    with ctx.session() as session:
        return int(get_tenant(session=session, slug=slug).id or 0)


def _result(view) -> str:
    shown = block(view, TEST_RESULT)
    if shown["type"] == "section":
        return shown["text"]["text"]
    return " ".join(element["text"] for element in shown["elements"])


async def _open(bot, slack_api, user=ACME_ADMIN):
    answer = await bot.command("server", user=user)
    assert answer.status == 200 and answer.text == ""  # acknowledged silently
    await slack_api.wait_for(lambda: slack_api.views("views.open"))
    return opened(slack_api)


async def test_the_command_opens_the_saved_server_with_an_empty_password(
    bot, tenants, slack_api
) -> None:
    saved = _add_server(tenants)
    view = await _open(bot, slack_api)
    assert view["callback_id"] == "mailbell_server"
    assert len(view["title"]["text"]) <= 24
    assert json.loads(view["private_metadata"]) == {
        "channel": ACME_CHANNEL,
        "tenant": _tenant_id(tenants, "acme"),
        "server": saved.id,
    }
    assert initial(view, "host") == "smtp.acme.example"
    assert initial(view, "port") == "587"
    assert initial(view, "security") == "starttls"
    assert (
        block(view, "security")["element"]["initial_option"]["text"]["text"]
        == (SECURITY_LABELS[SecurityMode.STARTTLS])
    )
    assert initial(view, "auth") == "PLAIN"
    assert initial(view, "username") == USER
    assert initial(view, "mail_from") == FROM
    password = block(view, "password")
    assert "initial_value" not in password["element"]
    assert password["hint"]["text"] == PASSWORD_HINT
    assert block(view, "port")["element"]["type"] == "number_input"
    assert block(view, "port")["element"]["is_decimal_allowed"] is False
    assert STORED not in _everything_sent(slack_api)


async def test_a_bad_port_and_an_empty_host_are_named_and_nothing_changes(
    bot, tenants, slack_api, state, audit
) -> None:
    _add_server(tenants)
    view = await _open(bot, slack_api)
    before = state()
    answer = await bot.submit(
        view, state_values(view, {"host": None, "port": "70000"}), user=ACME_ADMIN
    )
    assert answer.status == 200
    assert answer.json["response_action"] == "errors"
    errors = answer.json["errors"]
    assert set(errors) == {"host", "port"}
    assert errors["port"] == "Port 70000 is out of range: use 1-65535 (0 is reserved)"
    assert errors["host"].startswith("Host is required")
    assert state() == before
    assert audit("mail_server.update") == []


async def test_a_valid_submit_keeps_the_stored_password_and_is_announced(
    bot, tenants, slack_api, audit
) -> None:
    saved = _add_server(tenants)
    view = await _open(bot, slack_api)
    values = state_values(view, {"host": "127.0.0.2", "port": "2525", "password": None})
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    assert answer.status == 200 and answer.text == ""  # closes the modal
    stored = _stored(tenants)
    assert (stored["host"], stored["port"], stored["password"]) == ("127.0.0.2", 2525, STORED)
    assert stored["fenced"] is True  # a tenant's admin saved it: checked at every connection
    [entry] = audit("mail_server.update")
    assert entry.actor == f"{ACME_ADMIN}@{TEAM_ID}" and entry.source == "slack"
    assert entry.target == f"mail_server:{saved.id}"
    assert set(entry.fields) == {"host", "port"}
    assert STORED not in entry.model_dump_json()
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    [post] = slack_api.posts(ACME_CHANNEL)
    assert post["text"] == f"<@{ACME_ADMIN}> changed the mail server: host 127.0.0.2, port 2525"
    assert STORED not in _everything_sent(slack_api)


async def test_a_new_password_is_stored_and_announced_without_its_value(
    bot, tenants, slack_api
) -> None:
    _add_server(tenants, host="127.0.0.1")  # a tenant's save checks the host (fenced)
    view = await _open(bot, slack_api)
    answer = await bot.submit(
        view, state_values(view, {"password": "New-Pass-77"}), user=ACME_ADMIN
    )
    assert answer.status == 200 and answer.text == ""
    assert _stored(tenants)["password"] == "New-Pass-77"
    await slack_api.wait_for(lambda: slack_api.posts(ACME_CHANNEL))
    assert slack_api.posts(ACME_CHANNEL)[0]["text"].endswith(
        "changed the mail server: a new password"
    )
    assert "New-Pass-77" not in _everything_sent(slack_api)


async def test_a_tenant_without_a_server_gets_its_default_server(
    bot, tenants, slack_api, audit
) -> None:
    view = await _open(bot, slack_api)
    assert json.loads(view["private_metadata"])["server"] is None
    assert block(view, "password")["hint"]["text"] == "No password is stored"
    changes = {"host": "127.0.0.1", "port": "2525", "security": "none", "auth": "DISABLE"}
    answer = await bot.submit(view, state_values(view, changes), user=ACME_ADMIN)
    assert answer.json["errors"] == {
        "mail_from": "From is required: set the From address (the username is empty)"
    }
    changes["mail_from"] = FROM
    answer = await bot.submit(view, state_values(view, changes), user=ACME_ADMIN)
    assert answer.status == 200 and answer.text == ""
    stored = _stored(tenants)
    assert (stored["is_default"], stored["host"], stored["auth"]) == (True, "127.0.0.1", "DISABLE")
    assert audit("mail_server.create")[0].actor == f"{ACME_ADMIN}@{TEAM_ID}"


async def test_a_tenant_admin_cannot_point_the_server_at_a_fenced_host(
    bot, tenants, slack_api, state, monkeypatch
) -> None:
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")  # the default: public unicast only
    _add_server(tenants)
    view = await _open(bot, slack_api)
    before = state()
    values = state_values(view, {"host": "127.0.0.1"})
    answer = await bot.submit(view, values, user=ACME_ADMIN)
    assert set(answer.json["errors"]) == {"host"}
    assert "MAILBELL_TENANT_SMTP_NETWORKS" in answer.json["errors"]["host"]
    assert state() == before
    # A system admin holds the system's rights: not fenced.
    answer = await bot.submit(view, values, user=SYSTEM_ADMIN)
    assert answer.status == 200 and answer.text == ""
    assert (_stored(tenants)["host"], _stored(tenants)["fenced"]) == ("127.0.0.1", False)


async def test_strangers_and_other_tenants_admins_are_refused_and_audited(
    bot, tenants, slack_api, state, audit
) -> None:
    _add_server(tenants)
    view = await _open(bot, slack_api)
    before = state()
    for user in (STRANGER, GLOBEX_ADMIN):
        values = state_values(view, {"host": "127.0.0.9", "password": "Evil-1"})
        answer = await bot.submit(view, values, user=user)
        assert answer.json["response_action"] == "errors"
        assert "You may not change this tenant's mail server" in answer.json["errors"]["preset"]
    assert state() == before
    refused = audit("slack.refused")
    assert {entry.actor for entry in refused} == {
        f"{STRANGER}@{TEAM_ID}",
        f"{GLOBEX_ADMIN}@{TEAM_ID}",
    }
    assert {entry.tenant for entry in refused} == {"acme"}
    assert slack_api.posts(ACME_CHANNEL) == []


async def test_test_connection_shows_each_step_through_starttls_and_auth(
    bot, tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers(mode="starttls", require_starttls=True, auth=True, users={USER: RIGHT})
    _add_server(tenants, **smtp.server_fields(auth="PLAIN", username=USER, password=RIGHT))
    view = await _open(bot, slack_api)
    before = _stored(tenants)
    answer = await bot.view_click(
        view,
        TEST_ACTION,
        "test",
        user=ACME_ADMIN,
        values=state_values(view, {"port": str(smtp.port)}),
    )
    assert answer.status == 200
    await slack_api.wait_for(
        lambda: any(
            "Nothing was saved" in _result(v["view"]) for v in slack_api.views("views.update")
        ),
        timeout=SMTP_WAIT_S,
    )
    first, *_, last = slack_api.views("views.update")
    assert "Testing…" in _result(first["view"])
    text = _result(last["view"])
    for step in ("DNS", "TCP", "Greeting", "EHLO", "STARTTLS", "AUTH", "MAIL FROM"):
        assert f"✓ *{step}*" in text
    assert "✗" not in text and "✓ The connection works." in text
    assert last["view_id"] == view["id"]
    assert initial(last["view"], "host") == smtp.host  # what was typed stays
    assert "initial_value" not in block(last["view"], "password")["element"]
    assert [a.success for a in smtp.auth_attempts] == [True]  # the stored password, unsent to Slack
    assert smtp.messages == []
    assert _stored(tenants) == before  # a test of typed settings records nothing
    assert RIGHT not in _everything_sent(slack_api)


async def test_test_connection_with_a_wrong_password_fails_at_auth(
    bot, tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers(mode="starttls", require_starttls=True, auth=True, users={USER: RIGHT})
    _add_server(tenants, **smtp.server_fields(auth="PLAIN", username=USER, password=RIGHT))
    view = await _open(bot, slack_api)
    values = state_values(view, {"password": WRONG})
    await bot.view_click(view, TEST_ACTION, "test", user=ACME_ADMIN, values=values)
    await slack_api.wait_for(
        lambda: any(
            "Nothing was saved" in _result(v["view"]) for v in slack_api.views("views.update")
        ),
        timeout=SMTP_WAIT_S,
    )
    text = _result(slack_api.views("views.update")[-1]["view"])
    assert "✓ *STARTTLS*" in text
    assert "✗ *AUTH*" in text and "535" in text
    assert "✗ The connection test failed." in text
    assert _stored(tenants)["password"] == RIGHT
    assert WRONG not in _everything_sent(slack_api)


async def test_a_strangers_test_connection_is_refused_without_connecting(
    bot, tenants, slack_api, smtp_servers, audit
) -> None:
    smtp = smtp_servers(auth=True, users={USER: RIGHT})
    _add_server(tenants, **smtp.server_fields(auth="PLAIN", username=USER, password=RIGHT))
    view = await _open(bot, slack_api)
    await bot.view_click(view, TEST_ACTION, "test", user=STRANGER, values=state_values(view))
    await slack_api.wait_for(lambda: slack_api.views("views.update"))
    [update] = slack_api.views("views.update")
    assert "You may not change this tenant's mail server" in _result(update["view"])
    assert smtp.connections == 0
    assert [entry.actor for entry in audit("slack.refused")] == [f"{STRANGER}@{TEAM_ID}"]


async def test_a_preset_fills_host_port_and_security_and_saves_as_typed(
    bot, tenants, slack_api
) -> None:
    _add_server(tenants)
    view = await _open(bot, slack_api)
    typed = state_values(view, {"preset": "GMAIL", "mail_from": "Ops <ops@acme.org>"})
    await bot.view_click(view, PRESET_ACTION, user=SYSTEM_ADMIN, values=typed)
    await slack_api.wait_for(lambda: slack_api.views("views.update"))
    filled = opened(slack_api, "views.update")
    assert [initial(filled, name) for name in ("preset", "host", "port", "security")] == [
        "GMAIL",
        "smtp.gmail.com",
        "465",
        "tls",
    ]
    assert initial(filled, "mail_from") == "Ops <ops@acme.org>"  # typed, kept
    # New action ids: Slack shows the preset's values instead of what was typed before.
    assert (
        block(filled, "host")["element"]["action_id"] != block(view, "host")["element"]["action_id"]
    )
    answer = await bot.submit(filled, state_values(filled), user=SYSTEM_ADMIN)
    assert answer.status == 200 and answer.text == ""
    stored = _stored(tenants)
    assert (stored["provider"], stored["host"], stored["port"]) == ("GMAIL", "smtp.gmail.com", 465)
    assert (stored["security"], stored["password"]) == ("tls", STORED)
