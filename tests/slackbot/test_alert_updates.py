"""Alerts that update in place: a mirrored alert whose email ends after retries (or fails), or
whose health subject recovers, is edited with chat.update, not posted again.

Real parts: the worker with the real email channel against an aiosmtpd sink and the real Slack
channel against the Web API stand-in; health notices go through core.health.alerts.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from core.channels.base import StatusNote
from core.channels.email.channel import EmailChannel
from core.channels.slack import SlackChannel
from core.channels.slack.status_blocks import status_line, with_status
from core.health.alerts import send_notices
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.pipeline.worker import Worker
from core.services.audit import Actor
from core.services.deliveries import get_delivery, list_deliveries
from core.services.slack import add_routes, get_link
from core.services.tenants import get_tenant
from core.vocabulary import HealthKind, HealthState
from tests.slackbot.conftest import ACME_CHANNEL
from tests.support.factories import configure_tenant, emit_event
from tests.support.health import put_state
from tests.support.slack_api import TEAM_ID
from tests.support.smtp_servers import FaultHandler, SmtpTestServer

SETUP = Actor("setup", "cli")
TRY_AGAIN = "451 4.3.0 try again later"
REJECTED = "550 5.7.1 message rejected"
AT = datetime(2026, 12, 6, 10, 42, tzinfo=UTC)


def _acme(ctx, smtp: SmtpTestServer, recipients: tuple[str, ...] = ("ops@acme.org",)) -> None:
    """acme sends through `smtp` to `recipients`; its channel mirrors QUEUE_CALL_LOST."""
    ctx.settings.retry_base_s = 0.05
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        configure_tenant(session, ctx.box, acme, smtp=smtp, recipients=recipients, actor=SETUP)
        link = get_link(session=session, team_id=TEAM_ID, channel_id=ACME_CHANNEL)
        assert link is not None
        add_routes(session=session, link=link, names=["queue_call_lost"], actor=SETUP)


@pytest.fixture
def mirrored(tenants, smtp_servers):
    """acme with a sink that refuses the first transaction with 451, then accepts."""
    smtp = smtp_servers(handler=FaultHandler(data=TRY_AGAIN, times=1))
    _acme(tenants, smtp)
    return tenants


def _emit(ctx) -> dict[str, int]:
    """QUEUE_CALL_LOST for acme: the delivery id by channel."""
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        result = emit_event(session, ctx.box, acme, "QUEUE_CALL_LOST")
    return {d.channel: d.id for d in result.deliveries}


def _rows(ctx) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())


async def _deliver(ctx, *, timeout: float = 20.0) -> None:
    """Run the worker (real email and Slack channels) until nothing is queued."""
    worker = Worker(
        ctx,
        channels={
            "email": EmailChannel(ctx, pool_size=1),
            "slack": SlackChannel(ctx, pace_interval_s=0),
        },
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            await worker.run_once()
            if all(r.status not in ("queued", "sending") for r in _rows(ctx)):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"still queued: {[(r.id, r.status) for r in _rows(ctx)]}")
            await asyncio.sleep(0.05)
    finally:
        await worker.close()


def _chat_calls(slack_api, channel: str = ACME_CHANNEL) -> list[tuple[str, bool]]:
    return [
        (c.method, c.ok)
        for c in slack_api.calls
        if c.method.startswith("chat.") and c.body.get("channel") == channel
    ]


def _posted_ts(slack_api, body: dict[str, Any]) -> str:
    return next(c.answer["ts"] for c in slack_api.calls if c.body is body)


def _status_block(message: dict[str, Any]) -> str:
    last = message["blocks"][-1]
    assert last["type"] == "context" and last["block_id"] == "mailbell_status"
    return str(last["elements"][0]["text"])


# -- an email's fate ------------------------------------------------------------------------------


async def test_a_delivery_that_fails_then_succeeds_edits_its_alert_once(
    mirrored, slack_api, smtp_servers
) -> None:
    ids = _emit(mirrored)
    await _deliver(mirrored)

    rows = {r.id: r for r in _rows(mirrored)}
    email = rows[ids["email"]]
    assert email.status == "sent" and email.attempts == 2
    # exactly one post and one update in the channel, the update of the post
    assert _chat_calls(slack_api) == [("chat.postMessage", True), ("chat.update", True)]
    [post] = slack_api.posts(ACME_CHANNEL)
    [update] = slack_api.updates()
    assert update["channel"] == ACME_CHANNEL and update["ts"] == _posted_ts(slack_api, post)
    assert "thread_ts" not in update
    # the alert as posted, plus the status line
    assert update["blocks"][:-1] == post["blocks"]
    line = _status_block(update)
    assert "delivered by email" in line and "after 2 attempts" in line
    assert re.search(r"<!date\^\d+\^\{time\}\|\d\d:\d\d UTC>", line)
    assert update["text"].startswith(post["text"])
    assert "delivered by email" in update["text"] and "2 attempts" in update["text"]
    # the edit is a delivery of its own: same event, the Slack channel, naming what it edits
    [edit] = [r for r in rows.values() if r.edit_of is not None]
    assert edit.edit_of == ids["slack"] and edit.event_id == email.event_id
    assert (edit.channel, edit.target, edit.status, edit.attempts) == (
        "slack",
        ACME_CHANNEL,
        "sent",
        1,
    )
    assert edit.reply == f"ok updated ts={update['ts']}"


async def test_an_email_sent_at_its_first_attempt_edits_nothing(
    tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers()
    _acme(tenants, smtp)
    _emit(tenants)
    await _deliver(tenants)
    assert len(smtp.messages) == 1
    assert _chat_calls(slack_api) == [("chat.postMessage", True)]
    assert [r for r in _rows(tenants) if r.edit_of is not None] == []


async def test_an_email_that_fails_for_good_edits_with_the_failure(
    tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers(handler=FaultHandler(data=REJECTED))
    _acme(tenants, smtp)
    ids = _emit(tenants)
    await _deliver(tenants)
    rows = {r.id: r for r in _rows(tenants)}
    assert rows[ids["email"]].status == "failed" and rows[ids["email"]].attempts == 1
    assert _chat_calls(slack_api) == [("chat.postMessage", True), ("chat.update", True)]
    [update] = slack_api.updates()
    line = _status_block(update)
    assert line.startswith("✗ email failed after 1 attempt: ")
    assert "550 5.7.1 message rejected" in line
    assert "✗ email failed after 1 attempt" in update["text"]
    assert "xoxb" not in str(update) and "password" not in str(update).lower()


async def test_an_email_that_reaches_some_recipients_says_so(
    tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers(handler=FaultHandler(rcpt={"noc@acme.org": "550 5.1.1 no such user"}))
    _acme(tenants, smtp, recipients=("ops@acme.org", "noc@acme.org"))
    ids = _emit(tenants)
    await _deliver(tenants)
    assert {r.id: r.status for r in _rows(tenants)}[ids["email"]] == "partial"
    [update] = slack_api.updates()
    line = _status_block(update)
    assert line.startswith("⚠ email delivered in part at <!date^")
    assert "after 1 attempt: " in line and "550 5.1.1 no such user" in line


async def test_an_edit_made_before_its_alert_is_posted_waits_for_the_post(
    tenants, slack_api, smtp_servers
) -> None:
    """The email fails for good while the alert's post is held back (429): the edit waits, then
    edits the one post; nothing is posted twice."""
    smtp = smtp_servers(handler=FaultHandler(data=REJECTED))
    _acme(tenants, smtp)
    slack_api.fail("chat.postMessage", status=429, retry_after=1, times=1)
    ids = _emit(tenants)
    await _deliver(tenants)
    assert _chat_calls(slack_api) == [
        ("chat.postMessage", False),
        ("chat.postMessage", True),
        ("chat.update", True),
    ]
    [post] = slack_api.posts(ACME_CHANNEL)
    [update] = slack_api.updates()
    assert update["ts"] == _posted_ts(slack_api, post)
    [edit] = [r for r in _rows(tenants) if r.edit_of == ids["slack"]]
    assert edit.status == "sent" and edit.attempts == 1  # waiting is not an attempt


async def test_a_message_that_cannot_be_edited_never_stops_the_emails_outcome(
    mirrored, slack_api
) -> None:
    from core.pipeline.contents import store_message

    ids = _emit(mirrored)
    with mirrored.session() as session:  # a message Slack takes, but no Block Kit list
        store_message(session, ids["slack"], mirrored.box.encrypt_bytes(b'{"blocks": "x"}'))
        session.commit()
    await _deliver(mirrored)
    rows = {r.id: r for r in _rows(mirrored)}
    assert rows[ids["email"]].status == "sent" and rows[ids["email"]].attempts == 2
    assert _chat_calls(slack_api) == [("chat.postMessage", True)]
    assert [r for r in rows.values() if r.edit_of is not None] == []


async def test_a_rate_limited_update_is_retried_and_lands(mirrored, slack_api) -> None:
    slack_api.fail("chat.update", status=429, retry_after=0.2, times=1)
    _emit(mirrored)
    await _deliver(mirrored)
    assert _chat_calls(slack_api) == [
        ("chat.postMessage", True),
        ("chat.update", False),
        ("chat.update", True),
    ]
    [update] = slack_api.updates()
    assert "after 2 attempts" in _status_block(update)
    [edit] = [r for r in _rows(mirrored) if r.edit_of is not None]
    assert edit.status == "sent" and edit.attempts == 2
    assert len(slack_api.posts()) == 1


async def test_an_update_of_a_deleted_message_fails_for_good(mirrored, slack_api) -> None:
    slack_api.fail("chat.update", error="message_not_found")
    ids = _emit(mirrored)
    await _deliver(mirrored)
    [edit] = [r for r in _rows(mirrored) if r.edit_of is not None]
    assert edit.id is not None
    assert edit.status == "failed" and edit.attempts == 1
    assert edit.last_error == "[slack] chat.update: message_not_found"
    assert _chat_calls(slack_api) == [("chat.postMessage", True), ("chat.update", False)]
    # the channel itself is fine: its health sees the post, not the edit
    with mirrored.session() as session:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=ACME_CHANNEL)
        assert link is not None and link.last_post_error is None
    # the delivery log shows the edit as a Slack delivery like any other
    with mirrored.session() as session:
        listed = {d.id: d for d in list_deliveries(session=session, limit=10)}
        detail = get_delivery(session=session, delivery_id=edit.id)
    assert listed[edit.id].channel == "slack" and listed[edit.id].target == ACME_CHANNEL
    assert listed[edit.id].status == "failed" and listed[ids["slack"]].status == "sent"
    assert detail.reply == "message_not_found"


async def test_the_delivery_log_lists_edits(mirrored, slack_api, slack_cli) -> None:
    ids = _emit(mirrored)
    await _deliver(mirrored)
    [edit] = [r for r in _rows(mirrored) if r.edit_of is not None]
    listed = slack_cli("deliveries", "list")
    assert listed.code == 0, listed.err
    shown = [line for line in listed.out.splitlines() if line.lstrip().startswith(str(edit.id))]
    assert len(shown) == 1 and ACME_CHANNEL in shown[0] and " sent " in shown[0]
    detail = slack_cli("deliveries", "show", str(edit.id))
    assert detail.code == 0, detail.err
    assert "slack" in detail.out and "ok updated ts=" in detail.out
    shown = json.loads(slack_cli("deliveries", "show", str(edit.id), "--json").out)
    assert shown["edit_of"] == ids["slack"]
    original = slack_cli("deliveries", "show", str(ids["slack"]))
    assert original.code == 0 and "ok ts=" in original.out
    # the TUI's deliveries page and its detail read the same way
    from tui.data.deliveries import load_delivery, load_page

    page = {row["id"]: row for row in load_page(mirrored, None, None, None, 20).rows}
    assert (page[edit.id]["channel"], page[edit.id]["target"]) == ("slack", ACME_CHANNEL)
    assert edit.id is not None
    shown_edit = load_delivery(mirrored, None, edit.id)
    assert shown_edit["status"] == "sent" and "delivered by email" in shown_edit["message"]


# -- health ---------------------------------------------------------------------------------------


def _health(ctx, state: HealthState, *, at) -> list:
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        return put_state(
            session,
            "email_account:7",
            HealthKind.EMAIL_ACCOUNT,
            acme.id,
            "help@acme.org",
            state,
            reason="login refused" if state != HealthState.OK else "",
            now=at,
        )


async def test_a_health_recovery_edits_its_alert(tenants, slack_api, smtp_servers) -> None:
    smtp = smtp_servers()
    _acme(tenants, smtp)
    now = utcnow()
    alert = _health(tenants, HealthState.CRITICAL, at=now - timedelta(minutes=10))
    assert [n.notice for n in alert] == ["alert"]
    await send_notices(tenants, alert)
    await _deliver(tenants)
    [post] = slack_api.posts(ACME_CHANNEL)
    assert any(b["type"] == "actions" for b in post["blocks"])  # Check now, Mute 24 h

    recovery = _health(tenants, HealthState.OK, at=now)
    assert [n.notice for n in recovery] == ["recovery"]
    await send_notices(tenants, recovery)
    await send_notices(tenants, recovery)  # sent again (a crash, say): nothing twice
    await _deliver(tenants)

    assert _chat_calls(slack_api) == [("chat.postMessage", True), ("chat.update", True)]
    [update] = slack_api.updates()
    assert update["ts"] == _posted_ts(slack_api, post)
    assert update["blocks"][0] == post["blocks"][0]  # the alert's header stays
    assert [b for b in update["blocks"] if b["type"] == "actions"] == []  # nothing left to do
    line = _status_block(update)
    assert line.startswith("✓ recovered at <!date^")
    assert "✓ recovered at " in update["text"]
    # the emails go as before: the alert's and the recovery's
    subjects = sorted(str(m.subject) for m in smtp.messages)
    assert len(subjects) == 2 and any("ok again" in s for s in subjects)


async def test_a_recovery_whose_alert_was_never_posted_is_posted(
    tenants, slack_api, smtp_servers
) -> None:
    smtp = smtp_servers()
    _acme(tenants, smtp)
    slack_api.fail("chat.postMessage", error="not_in_channel", channel=ACME_CHANNEL, times=1)
    now = utcnow()
    await send_notices(tenants, _health(tenants, HealthState.CRITICAL, at=now - timedelta(hours=1)))
    await _deliver(tenants)
    await send_notices(tenants, _health(tenants, HealthState.OK, at=now))
    await _deliver(tenants)
    assert _chat_calls(slack_api) == [("chat.postMessage", False), ("chat.postMessage", True)]
    [post] = slack_api.posts(ACME_CHANNEL)
    assert post["text"] == "[acme] Recovered: help@acme.org is ok again"
    assert [r for r in _rows(tenants) if r.edit_of is not None] == []


# -- the line itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "plain"),
    [
        (
            StatusNote("delivered", at=AT, attempts=3),
            "✓ delivered by email at 10:42 UTC after 3 attempts",
        ),
        (
            StatusNote(
                "failed", at=AT, attempts=5, reason="gave up after 5 attempts: [connect] <x>"
            ),
            "✗ email failed after 5 attempts: [connect] <x>",
        ),
        (
            StatusNote("recovered", at=AT, state="ok", previous="critical"),
            "✓ recovered at 10:42 UTC",
        ),
        (
            StatusNote("recovered", at=AT, state="unknown", previous="critical"),
            "? no longer critical at 10:42 UTC (now unknown)",
        ),
    ],
)
def test_the_status_lines(note: StatusNote, plain: str) -> None:
    rich, text = status_line(note)
    assert text == plain
    assert "<!date^" in rich or note.kind == "failed"
    assert "<x>" not in rich  # mrkdwn escaped: a reason cannot ping or link


def test_an_edit_keeps_slacks_limits_and_replaces_its_own_line() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": str(i)}} for i in range(50)]
    message = {"text": "x" * 3000, "blocks": blocks}
    once = with_status(message, StatusNote("delivered", at=AT, attempts=2))
    twice = with_status(once, StatusNote("failed", at=AT, attempts=3, reason="550 no"))
    assert len(twice["blocks"]) == 50 and len(twice["text"]) <= 3000
    assert [b.get("block_id") for b in twice["blocks"]].count("mailbell_status") == 1
    assert twice["text"].endswith("✗ email failed after 3 attempts: 550 no")
