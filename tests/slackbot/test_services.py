"""Core pieces on their own: the alert message's limits, pacing, routes, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.catalog import EVENTS, get_event, sample
from core.channels.slack import ChannelPacer, SlackRateLimited, classify
from core.channels.slack.blocks import alert_message
from core.errors import PermanentError, RetryableError, ValidationError
from core.services.slack import add_routes, link_channel, remove_routes, slack_targets
from core.services.slack_admins import is_authorized, slack_actor
from slackbot.text import user_id, words
from tests.support.factories import make_tenant

AT = datetime(2026, 11, 3, 11, 47, tzinfo=UTC)


@pytest.mark.parametrize("name", list(EVENTS))
def test_every_event_has_a_message_within_limits(name) -> None:
    message = alert_message(
        event=EVENTS[name], payload=sample(name), tenant="acme", delivery_id=7, at=AT
    )
    assert message["text"] and len(message["blocks"]) <= 50
    assert message["blocks"][0]["type"] == "header"
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    json.dumps(message)


def test_long_content_is_truncated_inside_slack_limits() -> None:
    payload = {
        **sample("QUEUE_CALL_LOST"),
        "reason": "x" * 10_000,
        "queue_name": "q" * 500,
        **{f"extra_{i}": f"value {i}" for i in range(200)},
    }
    message = alert_message(
        event=get_event("QUEUE_CALL_LOST"), payload=payload, tenant="acme", delivery_id=1, at=AT
    )
    blocks = message["blocks"]
    assert len(blocks) <= 50 and blocks[-1]["type"] == "context"
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        fields = block.get("fields", [])
        assert len(fields) <= 10 and all(len(f["text"]) <= 2000 for f in fields)
    assert len(message["text"]) <= 3000


def test_payload_text_cannot_ping_the_channel() -> None:
    payload = {**sample("QUEUE_CALL_LOST"), "reason": "<!channel> <@U123> & co"}
    message = alert_message(
        event=get_event("QUEUE_CALL_LOST"), payload=payload, tenant="acme", delivery_id=1, at=AT
    )
    text = json.dumps(message["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt; &lt;@U123&gt; &amp; co" in text
    # the fallback is what notifications show: escaped the same way
    assert "<!channel>" not in message["text"]
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; co" in message["text"]


def test_pacer_hands_out_slots_per_channel() -> None:
    now = [100.0]
    pacer = ChannelPacer(1.0, clock=lambda: now[0])
    assert pacer.reserve("C1", 2.0) == 0.0
    assert pacer.reserve("C1", 2.0) == 1.0
    assert pacer.reserve("C1", 2.0) == 2.0
    assert pacer.reserve("C1", 2.0) == -3.0  # too far: nothing taken
    assert pacer.reserve("C2", 2.0) == 0.0  # another channel is independent
    pacer.hold("C2", 30)
    assert pacer.reserve("C2", 2.0) == -30.0
    now[0] += 3.0
    assert pacer.reserve("C1", 2.0) == 0.0
    assert ChannelPacer(0).reserve("C1", 0) == 0.0


def test_error_classification() -> None:
    assert isinstance(classify("channel_not_found"), PermanentError)
    assert isinstance(classify("not_in_channel"), PermanentError)
    assert isinstance(classify("invalid_auth"), PermanentError)
    assert isinstance(classify("internal_error"), RetryableError)
    assert isinstance(classify("fatal_error"), RetryableError)
    limited = classify("ratelimited", retry_after=7)
    assert isinstance(limited, SlackRateLimited) and limited.retry_after == 7


@pytest.fixture
def linked(session, actor):
    make_tenant(session, actor=actor)
    make_tenant(session, slug="globex", actor=actor)
    a = link_channel(
        session=session, team_id="T1", channel_id="CA", tenant_slug="acme", actor=actor
    )
    g = link_channel(
        session=session, team_id="T1", channel_id="CG", tenant_slug="globex", actor=actor
    )
    return a, g


def test_targets_follow_routes(session, actor, linked) -> None:
    acme, globex = linked
    from core.services.tenants import get_tenant

    tenant = get_tenant(session=session, slug="acme")
    assert slack_targets(session, tenant, "QUEUE_CALL_LOST") == []
    add_routes(session=session, link=acme, names=["queue_call_lost"], actor=actor)
    add_routes(session=session, link=globex, names=["all"], actor=actor)
    assert slack_targets(session, tenant, "QUEUE_CALL_LOST") == ["CA"]
    assert slack_targets(session, tenant, "QUEUE_SLA") == []
    with pytest.raises(ValidationError, match="system event"):
        add_routes(session=session, link=acme, names=["disk_low"], actor=actor)
    add_routes(session=session, link=globex, names=["disk_low"], actor=actor, system_admin=True)
    assert slack_targets(session, None, "DISK_LOW") == ["CG"]
    assert remove_routes(session=session, link=globex, names=["all"], actor=actor) == [
        "*",
        "DISK_LOW",
    ]


def test_route_changes_are_audited_with_the_slack_user(session, linked) -> None:
    from core.services.audit import list_entries

    who = slack_actor("U1", "T1")
    add_routes(session=session, link=linked[0], names=["queue_sla", "queue_sla"], actor=who)
    [entry] = [e for e in list_entries(session=session) if e.action == "slack.route"]
    assert (entry.actor, entry.source, entry.tenant, entry.fields) == (
        "U1@T1",
        "slack",
        "acme",
        ["QUEUE_SLA"],
    )


def test_is_authorized(session, actor, linked) -> None:
    from core.services.slack_admins import add_admin
    from core.services.tenants import get_tenant

    acme = get_tenant(session=session, slug="acme")
    globex = get_tenant(session=session, slug="globex")
    add_admin(session=session, user_id="UA", tenant=acme, team_id="T1", actor=actor)
    check = {"session": session, "admin_ids": ["USYS"]}
    assert is_authorized(**check, user_id="USYS", team_id="T9", tenant=None)
    assert is_authorized(**check, user_id="UA", team_id="T1", tenant=acme)
    assert not is_authorized(**check, user_id="UA", team_id="T2", tenant=acme)
    assert not is_authorized(**check, user_id="UA", team_id="T1", tenant=globex)
    assert not is_authorized(**check, user_id="UA", team_id="T1", tenant=None)


def test_slack_text_parsing() -> None:
    assert words("recipients add <mailto:a@b.org|a@b.org>,c@d.org") == [
        "recipients",
        "add",
        "a@b.org",
        "c@d.org",
    ]
    assert words("admins add <@U123|Jane Doe>") == ["admins", "add", "<@U123>"]
    assert [user_id(w) for w in ("<@U123>", "<@W9|x>", "U123", "@u123", "jane")] == [
        "U123",
        "W9",
        "U123",
        "U123",
        None,
    ]


def test_cli_slack_admin_commands(slack_cli, db_dump) -> None:
    assert slack_cli("tenant", "add", "acme").code == 0
    result = slack_cli("slack", "admin", "add", "u0abc", "--tenant", "acme")
    assert result.code == 0 and "U0ABC is now a Slack admin of tenant acme" in result.out
    assert slack_cli("slack", "admin", "add", "U0SYS").code == 0
    result = slack_cli("slack", "admin", "list", "--tenant", "acme", "--json")
    assert json.loads(result.out) == [
        {"user_id": "U0ABC", "team": None, "tenant": "acme", "source": "db"}
    ]
    result = slack_cli("slack", "admin", "list", "--json")
    assert [row["user_id"] for row in json.loads(result.out)] == ["U0SYS"]
    before = db_dump()
    for args, message in (
        (("add", "U0ABC", "--tenant", "acme"), "already"),
        (("add", "nobody"), "not a Slack user id"),
        (("add", "U0X", "--tenant", "nosuch"), "does not exist"),
        (("remove", "U0NOPE"), "is not a Slack admin"),
    ):
        result = slack_cli("slack", "admin", *args)
        assert result.code == 1 and message in result.err, result
    assert db_dump() == before
    assert slack_cli("slack", "admin", "remove", "U0ABC", "--tenant", "acme").code == 0
    result = slack_cli("slack", "admin", "list", "--tenant", "acme")
    assert "(none)" in result.out


@pytest.mark.parametrize("case", ["tenant", "system", "system-not-applied", "none"])
def test_status_overview_agrees_with_the_services(session, ctx, actor, case) -> None:
    """`slack_status` reads with its own statements: same answers as the services."""
    from core.models.delivery import Delivery
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.mail_servers import resolve_effective_server
    from core.services.notifications import (
        get_notification_settings,
        update_notification_settings,
    )
    from core.services.slack_status import tenant_overview

    tenant = make_tenant(session, actor=actor)
    server = {"server": "smtp.example.org", "username": "a@example.org", "password": "secret-pw"}
    if case == "tenant":
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(
                {**server, "recipients": "a@x.org,b@x.org", "notify_queue_sla_breached": True},
                system=False,
            ),
            actor=actor,
        )
    if case.startswith("system"):
        changes = {**server, "apply_to_all_tenants": case == "system"}
        update_notification_settings(
            tenant=None,
            session=session,
            box=ctx.box,
            changes=NotificationSettingsUpdate.parse(changes, system=True),
            actor=actor,
        )
    for status in ("queued", "failed", "failed", "sent"):
        row = Delivery(event_id=_event(session, tenant), tenant_id=tenant.id, event="QUEUE_SLA")
        row.target, row.status, row.last_error = "a@x.org", status, "boom"
        session.add(row)
    session.commit()
    overview = tenant_overview(session=session, tenant_id=tenant.id, tenant_slug="acme")
    expected = resolve_effective_server(session=session, tenant=tenant)
    assert overview.server_source == expected.source
    assert (overview.server or {}).get("host") == (
        expected.server.host if expected.server else None
    )
    settings = get_notification_settings(session=session, tenant=tenant)
    flat = {"recipients": ",".join(settings.recipients), **settings.toggles}
    assert overview.settings == {k: flat[k] for k in overview.settings}
    assert overview.queued == 1 and len(overview.failures) == 2
    assert "secret-pw" not in repr(overview)


def _event(session, tenant) -> int:
    from core.models.delivery import EventRecord

    record = EventRecord(tenant_id=tenant.id, name="QUEUE_SLA")
    session.add(record)
    session.flush()
    return record.id
