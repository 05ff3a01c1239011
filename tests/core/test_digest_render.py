"""Rendering a closed digest as email: the DIGEST template over the held events, parsed back as
MIME (the Slack form and the summaries: test_digest_slack.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from sqlmodel import Session

from core.catalog import DIGEST, sample
from core.channels.base import DigestMessage, HeldItem
from core.channels.email.digest import LISTED_WHEN_SHORT
from core.channels.email.render import EmailRenderer
from core.channels.slack.render import SlackRenderer
from core.context import Context
from core.errors import PermanentError, ValidationError
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.rendering import TemplateSource, default_template
from core.services.audit import Actor
from core.services.notifications import update_notification_settings
from core.services.templates import create_custom_template
from core.template_validation import validate_template
from core.vocabulary import DIGEST_ITEMS_MAX
from tests.support.digest_render import RECIPIENTS, START, draft, lost_calls
from tests.support.factories import configure_tenant, make_mail_server, make_tenant


def parsed(ctx: Context, rendered: DigestMessage) -> EmailMessage:
    message = message_from_bytes(ctx.box.decrypt_bytes(rendered.content), policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert rendered.message_id == message["Message-ID"]  # what the delivery log records
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _always(template: TemplateSource) -> Callable[..., TemplateSource]:
    """A stand-in for `default_template(name, locale=None)` that always gives `template`."""
    return lambda name, locale=None: template


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
    assert "+49 30 000001 waited 3 min 4 sec: caller hung up" in text
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
    assert text.count("waited 3 min 4 sec") == DIGEST_ITEMS_MAX
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
    monkeypatch.setattr("core.services.templates.default_template", _always(broken))
    monkeypatch.setattr("core.channels.email.digest.default_template", _always(broken))
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
    monkeypatch.setattr("core.services.templates.default_template", _always(heavy))
    monkeypatch.setattr("core.channels.email.digest.default_template", _always(heavy))
    content = EmailRenderer().digest(
        draft(session, ctx, tenant, lost_calls(120), server_id=server_id)
    )
    message = parsed(ctx, content)
    assert message["Subject"].startswith("120 more lost calls")
    text, _ = parts(message)
    assert text.count("waited 3 min 4 sec") == LISTED_WHEN_SHORT == 50
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
    raw = ctx.box.decrypt_bytes(content.content).decode()
    assert not any(address in raw for address in RECIPIENTS)
    assert parsed(ctx, content)["To"] == "undisclosed-recipients:;"


@pytest.mark.parametrize(
    "body",
    [
        "<p>{{ items.__class__ }}</p>",
        "<p>{{ items[0].model_json_schema() }}</p>",  # items are mappings, not models
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
