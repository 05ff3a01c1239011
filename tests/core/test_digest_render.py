"""Rendering a closed digest: the DIGEST email (parsed back as MIME) and the Slack message."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from sqlmodel import Session

from core.catalog import DIGEST, EVENTS, get_event, get_template, sample
from core.channels.base import DigestDraft, HeldItem
from core.channels.digest_content import digest_payload, summary
from core.channels.email.digest import LISTED_WHEN_SHORT
from core.channels.email.render import EmailRenderer
from core.channels.slack.blocks import FALLBACK_MAX, HEADER_MAX, MAX_BLOCKS, SECTION_TEXT_MAX
from core.channels.slack.digest_blocks import ITEMS_SHOWN, digest_message
from core.channels.slack.render import SlackRenderer
from core.context import Context
from core.errors import PermanentError, ValidationError
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.rendering import default_template
from core.services.audit import Actor
from core.services.notifications import update_notification_settings
from core.services.templates import create_custom_template
from core.template_validation import validate_template
from core.vocabulary import DIGEST_EVENTS, DIGEST_ITEMS_MAX
from tests.support.factories import configure_tenant, make_mail_server, make_tenant

START = datetime(2026, 11, 3, 10, 5, tzinfo=UTC)
END = START + timedelta(minutes=10)
RECIPIENTS = ("ops@acme.org", "boss@acme.org")


def lost_calls(count: int, *, queues: tuple[str, ...] = ("Sales",)) -> list[HeldItem]:
    """`count` held lost calls, each with a caller of its own (+49 30 000001, ...)."""
    base = sample("QUEUE_CALL_LOST")
    return [
        HeldItem(
            delivery_id=100 + n,
            event_id=n,
            at=START + timedelta(seconds=n),
            payload={**base, "caller": f"+49 30 {n:06d}", "queue_name": queues[n % len(queues)]},
        )
        for n in range(1, count + 1)
    ]


def draft(
    session: Session,
    ctx: Context,
    tenant: Tenant | None,
    items: list[HeldItem],
    *,
    total: int | None = None,
    server_id: int | None = None,
    target: str = ",".join(RECIPIENTS),
    event: str = "QUEUE_CALL_LOST",
    channel: str = "email",
) -> DigestDraft:
    return DigestDraft(
        session=session,
        box=ctx.box,
        tenant=tenant,
        event=event,
        channel=channel,
        target=target,
        delivery_id=999,
        mail_server_id=server_id,
        items=items,
        total=len(items) if total is None else total,
        window_start=START,
        window_end=END,
    )


def parsed(ctx: Context, content: bytes) -> EmailMessage:
    message = message_from_bytes(ctx.box.decrypt_bytes(content), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.fixture
def acme(session: Session, ctx: Context, actor: Actor) -> tuple[Tenant, int]:
    """Tenant acme (named Acme Corp) with its server and two recipients; (tenant, server id)."""
    tenant = make_tenant(session, slug="acme", name="Acme Corp", actor=actor)
    server = make_mail_server(session, ctx.box, tenant, mail_from="alerts@acme.org")
    configure_tenant(session, ctx.box, tenant, recipients=RECIPIENTS, actor=actor)
    return tenant, server.id


def test_the_renderers_digest() -> None:
    assert EmailRenderer.digests and SlackRenderer.digests


def test_one_held_event(session: Session, ctx: Context, acme: tuple[Tenant, int]) -> None:
    tenant, server_id = acme
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, lost_calls(1), server_id=server_id)
    )
    message = parsed(ctx, content)
    assert message["Subject"] == "1 more lost call in queue Sales (10:05\u201310:15)"
    assert message["From"] == "alerts@acme.org"
    assert [a.addr_spec for a in message["To"].addresses] == list(RECIPIENTS)
    assert message["Message-ID"].endswith("@acme.org>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert "<queue-call-lost.acme.mailbell.acme.org>" in message["List-Id"]
    text, html = parts(message)
    assert "+49 30 000001 waited 3 min 04 s: caller hung up" in text
    assert "+49 30 000001" in html and "Acme Corp" in text
    assert "10:05:01" in text  # each item's time, UTC


def test_forty_seven_held_events_each_listed_once(
    session: Session, ctx: Context, acme: tuple[Tenant, int]
) -> None:
    tenant, server_id = acme
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, lost_calls(47), server_id=server_id)
    )
    message = parsed(ctx, content)
    assert message["Subject"] == "47 more lost calls in queue Sales (10:05\u201310:15)"
    text, html = parts(message)
    for n in range(1, 48):
        assert text.count(f"+49 30 {n:06d}") == 1
        assert html.count(f"+49 30 {n:06d}") == 1
    # the queue they share is in the headline, not repeated on every line
    assert "(queue Sales)" not in text
    assert "more, not listed" not in text


def test_more_than_the_listed_maximum(
    session: Session, ctx: Context, acme: tuple[Tenant, int]
) -> None:
    tenant, server_id = acme
    total = DIGEST_ITEMS_MAX + 120
    items = lost_calls(DIGEST_ITEMS_MAX)
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, items, total=total, server_id=server_id)
    )
    message = parsed(ctx, content)
    assert message["Subject"].startswith(f"{total} more lost calls in queue Sales")
    text, _ = parts(message)
    assert text.count("waited 3 min 04 s") == DIGEST_ITEMS_MAX
    assert f"+49 30 {DIGEST_ITEMS_MAX:06d}" in text
    assert "and 120 more, not listed here" in text


def test_mixed_queues_name_each_line_s_queue(
    session: Session, ctx: Context, acme: tuple[Tenant, int]
) -> None:
    tenant, server_id = acme
    items = lost_calls(4, queues=("Sales", "Support"))
    message = parsed(
        ctx, EmailRenderer().digest(draft(session, ctx, tenant, items, server_id=server_id))
    )
    assert message["Subject"] == "4 more lost calls (10:05\u201310:15)"
    text, _ = parts(message)
    assert text.count("(queue Sales)") == 2 and text.count("(queue Support)") == 2


def test_the_tenant_s_custom_template_is_used(
    session: Session, ctx: Context, acme: tuple[Tenant, int], actor: Actor
) -> None:
    tenant, server_id = acme
    other = make_tenant(session, slug="beta", actor=actor)
    beta_server = make_mail_server(session, ctx.box, other, mail_from="alerts@beta.org")
    create_custom_template(
        session=session,
        tenant=tenant,
        name="digest",
        subject="[burst] {{ count }} x {{ event }}",
        body="<ul>{% for item in items %}<li>{{ item.fields.Caller }}</li>{% endfor %}</ul>",
        actor=actor,
    )
    mine = parsed(
        ctx, EmailRenderer().digest(draft(session, ctx, tenant, lost_calls(3), server_id=server_id))
    )
    assert mine["Subject"] == "[burst] 3 x QUEUE_CALL_LOST"
    text, _ = parts(mine)
    assert "+49 30 000003" in text and "waited" not in text
    theirs = parsed(
        ctx,
        EmailRenderer().digest(
            draft(session, ctx, other, lost_calls(3), server_id=beta_server.id, target="a@b.org")
        ),
    )
    assert theirs["Subject"].startswith("3 more lost calls")  # beta has the default


def test_the_system_s_digests_use_the_system_template_and_server(
    session: Session, ctx: Context, actor: Actor
) -> None:
    server = make_mail_server(session, ctx.box, None, mail_from="pbx@ops.example")
    create_custom_template(
        session=session, tenant=None, name=DIGEST, subject="System: {{ headline }}", actor=actor
    )
    base = sample("TRUNK_DISCONNECTED")
    items = [HeldItem(n, n, START, {**base, "reason": f"timeout {n}"}) for n in range(5)]
    message = parsed(
        ctx,
        EmailRenderer().digest(
            draft(session, ctx, None, items, event="TRUNK_DISCONNECTED", target="noc@ops.example")
        ),
    )
    assert message["Subject"] == (
        "System: 5 more trunk disconnections of trunk Example Telecom primary"
    )
    assert message["From"] == "pbx@ops.example" and server.id is not None
    text, _ = parts(message)
    assert all(f"timeout {n}" in text for n in range(5))


def test_a_custom_template_that_fails_falls_back_to_the_default(
    session: Session,
    ctx: Context,
    acme: tuple[Tenant, int],
    actor: Actor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant, server_id = acme
    # Passes the checks (the sample has three items) but a digest of one has no third.
    create_custom_template(
        session=session,
        tenant=tenant,
        name=DIGEST,
        body="<p>{{ items[2].summary.upper() }}</p>",
        actor=actor,
    )
    with caplog.at_level(logging.WARNING):
        content = EmailRenderer().digest(
            draft(session, ctx, tenant, lost_calls(1), server_id=server_id)
        )
    text, _ = parts(parsed(ctx, content))
    assert "+49 30 000001 waited" in text  # the default's list
    assert "custom DIGEST template of acme failed" in caplog.text


def test_a_digest_that_cannot_render_at_all_fails_with_the_reason(
    session: Session,
    ctx: Context,
    acme: tuple[Tenant, int],
    actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, server_id = acme
    shipped = default_template(DIGEST)
    broken = replace(shipped, body="<p>{{ items[5].summary }}</p>")
    monkeypatch.setattr("core.services.templates.default_template", lambda name: broken)
    monkeypatch.setattr("core.channels.email.digest.default_template", lambda name: broken)
    with pytest.raises(PermanentError) as caught:
        EmailRenderer().digest(draft(session, ctx, tenant, lost_calls(2), server_id=server_id))
    assert caught.value.step == "render"
    assert str(caught.value).startswith("digest: template DIGEST: line 1:")
    # a failing custom template falls back to the shipped one, which fails too: the same error
    create_custom_template(
        session=session, tenant=tenant, name=DIGEST, body="<p>{{ items[2].at }}</p>", actor=actor
    )
    with pytest.raises(PermanentError, match="digest: template DIGEST"):
        EmailRenderer().digest(draft(session, ctx, tenant, lost_calls(2), server_id=server_id))


def test_a_default_that_fails_with_hundreds_of_items_lists_fewer(
    session: Session, ctx: Context, acme: tuple[Tenant, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A render budget hit (a loaded machine) must not lose the burst: fewer lines, same count."""
    tenant, server_id = acme
    heavy = replace(
        default_template(DIGEST),
        body="{% if items|length > 50 %}{{ items[999].summary }}{% endif %}"
        "{% for item in items %}<p>{{ item.summary }}</p>{% endfor %}"
        "<p>and {{ omitted }} more</p>",
    )
    monkeypatch.setattr("core.services.templates.default_template", lambda name: heavy)
    monkeypatch.setattr("core.channels.email.digest.default_template", lambda name: heavy)
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, lost_calls(120), server_id=server_id)
    )
    message = parsed(ctx, content)
    assert message["Subject"].startswith("120 more lost calls")
    text, _ = parts(message)
    assert text.count("waited 3 min 04 s") == LISTED_WHEN_SHORT == 50
    assert "and 70 more" in text


def test_a_removed_server_gives_way_to_the_effective_one(
    session: Session, ctx: Context, acme: tuple[Tenant, int]
) -> None:
    tenant, _ = acme
    message = parsed(
        ctx, EmailRenderer().digest(draft(session, ctx, tenant, lost_calls(2), server_id=424242))
    )
    assert message["From"] == "alerts@acme.org"


def test_bcc_mode_shows_no_recipient(
    session: Session, ctx: Context, acme: tuple[Tenant, int], actor: Actor
) -> None:
    tenant, server_id = acme
    changes = NotificationSettingsUpdate.parse({"recipient_mode": "bcc"}, system=False)
    update_notification_settings(
        session=session, box=ctx.box, tenant=tenant, changes=changes, actor=actor
    )
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, lost_calls(2), server_id=server_id)
    )
    raw = ctx.box.decrypt_bytes(content).decode()
    assert not any(address in raw for address in RECIPIENTS)
    assert parsed(ctx, content)["To"] == "undisclosed-recipients:;"


@pytest.mark.parametrize(
    "body",
    [
        "<p>{{ items.__class__ }}</p>",
        "<p>{% for item in items %}{{ item.caller }}{% endfor %}</p>",  # items have no caller
        "<p>{{ queue_number }}</p>",  # a variable of the event, not of the digest
        "<p>{% for item in items %}{{ item.summary }}</p>",  # unclosed for
    ],
)
def test_a_bad_custom_digest_template_is_refused_at_save(body: str) -> None:
    """What `template set` and every other front end save through (the CLI test checks that
    nothing is stored)."""
    shipped = default_template(DIGEST)
    with pytest.raises(ValidationError) as caught:
        validate_template(DIGEST, mail_from="", subject=shipped.subject, body=body)
    assert caught.value.field == "body"
    assert "line 1" in caught.value.message


def test_digest_is_a_template_and_not_an_event() -> None:
    assert get_template("digest").scope == "any" and DIGEST not in EVENTS
    with pytest.raises(ValidationError) as caught:
        get_event("digest", field="event")
    assert "not an event" in caught.value.message


@pytest.mark.parametrize("event", DIGEST_EVENTS)
def test_each_digest_event_has_a_summary_line_of_its_own(event: str) -> None:
    payload = sample(event)
    line = summary(event, payload)
    assert line and "\n" not in line and len(line) <= 300
    assert line != event and "None" not in line
    digest = digest_payload(
        event=event,
        items=[HeldItem(1, 1, START, payload), HeldItem(2, 2, END, payload)],
        total=2,
        window_start=START,
        window_end=END,
        tenant=None,
    )
    assert digest.headline.startswith("2 more ") and digest.count == 2
    assert "password" not in json.dumps(digest.model_dump(mode="json")).lower() or (
        event != "USER_CREATION"
    )


def test_secrets_of_a_held_payload_stay_out() -> None:
    shown = {**sample("USER_CREATION"), "password": "(redacted)"}
    digest = digest_payload(
        event="USER_CREATION",
        items=[HeldItem(1, 1, START, shown)],
        total=1,
        window_start=START,
        window_end=END,
        tenant="Acme",
    )
    dumped = json.dumps(digest.model_dump(mode="json"))
    assert "x7#Qm2!pLr" not in dumped and "Password" not in dumped
    assert digest.items[0].summary == "Amélie Laurent (1001), amelie.laurent@acme.example"


def _slack(
    ctx: Context, session: Session, tenant: Tenant | None, items: list[HeldItem], **kw: Any
) -> dict[str, Any]:
    content = SlackRenderer().digest(
        draft(session, ctx, tenant, items, channel="slack", target="C0123", **kw)
    )
    return json.loads(ctx.box.decrypt_bytes(content))


def test_slack_digest_says_the_count_and_window(
    session: Session, ctx: Context, acme: tuple[Tenant, int]
) -> None:
    tenant, _ = acme
    message = _slack(ctx, session, tenant, lost_calls(47))
    heading = "47 more lost calls in queue Sales (10:05\u201310:15)"
    assert message["text"] == f"[acme] {heading}"
    header, listing, footer = message["blocks"]
    assert header["text"]["text"].endswith(heading)
    lines = listing["text"]["text"].split("\n")
    assert len(lines) == ITEMS_SHOWN + 1 and lines[-1] == "…and 37 more"
    assert lines[0] == "• `10:05:01` +49 30 000001 waited 3 min 04 s: caller hung up"
    assert "delivery 999" in footer["elements"][0]["text"]


def test_slack_digest_stays_within_slack_s_limits_and_escapes(
    session: Session, ctx: Context
) -> None:
    base = sample("QUEUE_CALL_LOST")
    huge = "<!channel> " + "x" * 9_000
    items = [
        HeldItem(
            n, n, START, {**base, "queue_name": "Q" * 500, "reason": huge, "caller_name": huge}
        )
        for n in range(DIGEST_ITEMS_MAX)
    ]
    payload = digest_payload(
        event="QUEUE_CALL_LOST",
        items=items,
        total=10_000,
        window_start=START,
        window_end=END,
        tenant="t" * 500,
    )
    message = digest_message(payload=payload, tenant="t" * 500, delivery_id=1)
    assert len(message["text"]) <= FALLBACK_MAX
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["blocks"][0]["text"]["text"]) <= HEADER_MAX
    assert len(message["blocks"][1]["text"]["text"]) <= SECTION_TEXT_MAX
    assert len(message["blocks"][2]["elements"][0]["text"]) <= 3000
    assert "<!channel>" not in json.dumps(message)
    assert message["blocks"][1]["text"]["text"].endswith("…and 9990 more")
