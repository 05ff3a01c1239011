"""emit: validation, toggles, effective server, idempotency, encryption at rest."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from sqlmodel import select

from core.catalog import sample
from core.errors import ValidationError
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.contents import message_of
from core.services.deliveries import retry_delivery
from core.services.notifications import update_notification_settings
from tests.support.factories import (
    ACME_SERVER,
    configure_tenant,
    emit_event,
    make_mail_server,
    make_tenant,
)
from tests.support.storage import stored_bytes

# What `settings set server=smtp.acme.org username=alerts@acme.org password=pw` makes.
SERVER = {**ACME_SERVER, "password": "pw"}


def test_unknown_event_and_bad_payload_write_nothing(session, ctx, acme) -> None:
    with pytest.raises(ValidationError) as caught:
        emit_event(session, ctx.box, acme, event="QUEUE_EXPLODED", data={})
    assert caught.value.field == "event" and "QUEUE_CALL_LOST" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        emit_event(session, ctx.box, acme, data={"queue_name": "Sales"})
    assert caught.value.field == "data" and "caller" in caught.value.message
    assert session.exec(select(EventRecord)).all() == []


def test_scope_is_checked(session, ctx, acme) -> None:
    with pytest.raises(ValidationError, match="--system"):
        emit_event(session, ctx.box, acme, event="DISK_LOW")
    with pytest.raises(ValidationError) as caught:
        emit_event(session, ctx.box, None, event="QUEUE_SLA")
    assert caught.value.field == "tenant"


def test_disabled_event_is_suppressed_not_dropped(session, ctx, acme, actor) -> None:
    configure_tenant(session, ctx.box, acme, server=SERVER, toggles=(), actor=actor)
    result = emit_event(session, ctx.box, acme)
    [delivery] = result.deliveries
    assert delivery.status == "suppressed"
    assert delivery.last_error == "notify_queue_call_lost is off"
    assert delivery.content == b""


def test_not_configured_is_failed_with_the_reason(session, ctx, acme, actor) -> None:
    configure_tenant(session, ctx.box, acme, actor=actor)
    [delivery] = emit_event(session, ctx.box, acme).deliveries
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("not configured")


def test_retrying_a_never_rendered_delivery_renders_it_then(session, ctx, acme, actor) -> None:
    configure_tenant(session, ctx.box, acme, actor=actor)
    [delivery] = emit_event(session, ctx.box, acme).deliveries
    assert message_of(session, delivery.id) == b""
    with pytest.raises(ValidationError, match="still not configured"):
        retry_delivery(session=session, box=ctx.box, delivery_id=delivery.id, actor=actor)
    session.rollback()
    configure_tenant(session, ctx.box, acme, server=SERVER, actor=actor)
    retried = retry_delivery(session=session, box=ctx.box, delivery_id=delivery.id, actor=actor)
    assert (retried.status, retried.pending) == ("queued", ["ops@acme.org"])
    stored = message_of(session, delivery.id)
    assert b"ops@acme.org" not in stored  # sealed
    message = BytesParser(policy=policy.default).parsebytes(ctx.box.decrypt_bytes(stored))
    assert message["To"] == "ops@acme.org" and message["Message-ID"] == retried.message_id


def test_queued_message_is_rendered_now_and_encrypted(session, ctx, acme, actor) -> None:
    configure_tenant(
        session,
        ctx.box,
        acme,
        server={**SERVER, "reply_to": "noc@acme.org"},
        recipients=("a@acme.org", "b@acme.org"),
        actor=actor,
    )
    [delivery] = emit_event(session, ctx.box, acme).deliveries
    assert delivery.status == "queued"
    assert delivery.pending == ["a@acme.org", "b@acme.org"]
    assert delivery.sender == "alerts@acme.org"
    assert b"Sales" not in delivery.content  # encrypted at rest
    message = BytesParser(policy=policy.default).parsebytes(ctx.box.decrypt_bytes(delivery.content))
    assert message["To"] == "a@acme.org, b@acme.org"
    assert message["From"] == "alerts@acme.org"
    assert message["Reply-To"] == "noc@acme.org"
    assert message["Message-ID"] == delivery.message_id
    assert message.get_content_type() == "multipart/alternative"


def test_repeated_key_creates_nothing_new(session, ctx, acme, actor) -> None:
    configure_tenant(session, ctx.box, acme, server=SERVER, recipients=("a@acme.org",), actor=actor)
    first = emit_event(session, ctx.box, acme, key="call-77")
    second = emit_event(session, ctx.box, acme, key="call-77")
    assert second.duplicate and not first.duplicate
    assert [d.id for d in second.deliveries] == [d.id for d in first.deliveries]
    assert len(session.exec(select(Delivery)).all()) == 1
    other = make_tenant(session, slug="globex", actor=actor)
    assert not emit_event(session, ctx.box, other, key="call-77").duplicate  # keys are per tenant


def test_payload_addressed_event_goes_to_the_payload(session, ctx, acme, actor) -> None:
    configure_tenant(session, ctx.box, acme, server=SERVER, toggles=(), actor=actor)
    [delivery] = emit_event(session, ctx.box, acme, event="VOICEMAIL_RECEIVED").deliveries
    assert delivery.status == "queued"  # always on
    assert delivery.target == sample("VOICEMAIL_RECEIVED")["email"]


def test_welcome_password_is_not_stored_in_plain_text(session, ctx, acme, actor, home) -> None:
    configure_tenant(
        session, ctx.box, acme, server=SERVER, toggles=("notify_user_registration",), actor=actor
    )
    data = {**sample("USER_CREATION"), "password": "Welcome-Pass-991"}
    [delivery] = emit_event(session, ctx.box, acme, event="USER_CREATION", data=data).deliveries
    assert delivery.status == "queued"
    record = session.get(EventRecord, delivery.event_id)
    assert record.payload["password"] == "(redacted)"
    assert b"Welcome-Pass-991" not in stored_bytes(ctx, home)
    text = ctx.box.decrypt_bytes(delivery.content)
    assert b"image/png" in text  # the QR code travels inline


def test_system_event_uses_system_server_and_recipients(session, ctx, actor) -> None:
    make_mail_server(
        session,
        ctx.box,
        None,
        actor=actor,
        name="sys",
        host="smtp.sys.org",
        auth="DISABLE",
        mail_from="pbx@sys.org",
    )
    update_notification_settings(
        tenant=None,
        session=session,
        box=ctx.box,
        changes=NotificationSettingsUpdate.parse({"recipients": "root@sys.org"}, system=True),
        actor=actor,
    )
    [delivery] = emit_event(session, ctx.box, None, event="TRUNK_DISCONNECTED").deliveries
    assert (delivery.status, delivery.target, delivery.sender) == (
        "queued",
        "root@sys.org",
        "pbx@sys.org",
    )


def test_unknown_tenant_in_cli(cli) -> None:
    result = cli("emit", "QUEUE_SLA", "--tenant", "nope", "--data", "{}")
    assert result.code == 1 and "tenant 'nope' does not exist" in result.err
    result = cli("emit", "QUEUE_SLA", "--system", "--data", "[1]")
    assert result.code == 1 and result.err.startswith("error: data:")
