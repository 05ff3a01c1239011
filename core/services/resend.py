"""Re-send: a new copy of a finished delivery, queued through the outbox like any other.

The copy is a new delivery (`resent_from` names the original) of the same event, tenant and
channel; the original keeps its status and history. What the copy carries:
- email: the original's stored message when it has one and its server still exists (the very
  message a user lost), with a new Message-ID and Date, and `To` replaced when an address is
  given; otherwise (suppressed, held, failed before rendering, server deleted) the event
  rendered again from its stored payload with today's server and template;
- Slack and webhooks: the event rendered again for the same target, so the copy names its own
  delivery id (a webhook receiver's idempotency key: the same id would be dropped as a repeat);
  a mirrored inbound email is copied as it was.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from core import validation as v
from core.catalog import get_event
from core.channels.registry import renderer
from core.crypto import SecretBox
from core.errors import ValidationError
from core.mail.readdress import readdressed
from core.models._common import utcnow
from core.models.delivery import Delivery, EventRecord
from core.models.delivery_read import DeliveryRead
from core.models.mail import MailServer
from core.models.tenancy import Tenant
from core.pipeline.contents import message_of, store_message
from core.pipeline.emit_write import PreparedEmit
from core.pipeline.outbox import DeliveryRow
from core.services.audit import Actor, record
from core.services.deliveries import delivery_public, get_delivery, render_email
from core.services.slack_inbox import INBOUND_EVENT
from core.vocabulary import Channel, DeliveryStatus

# Still on its way: a copy now could cross the original; retry or wait instead.
UNFINISHED = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def resend_delivery(
    *,
    session: Session,
    box: SecretBox,
    delivery_id: int,
    actor: Actor,
    tenant: Tenant | None = None,
    to: str | None = None,
) -> DeliveryRead:
    """Queue a new copy of delivery `delivery_id` (with `tenant`, only that tenant's), to its
    recipients or, for an email, to the address `to`; the copy as the delivery log shows it.
    """
    original = get_delivery(session=session, delivery_id=delivery_id, tenant=tenant)
    address = None
    if to is not None:
        if original.channel != Channel.EMAIL:
            raise ValidationError(
                "to",
                f"delivery {delivery_id} is a {original.channel} delivery: it is resent to its "
                "own target; an address is for email deliveries only",
            )
        address = v.email_address("to", to)
    if original.status in UNFINISHED:
        raise ValidationError(
            "status",
            f"delivery {delivery_id} is {original.status}: it is still being sent; "
            "resend it once it is final",
        )
    target = address or original.target
    recipients = [a for a in target.split(",") if a] if original.channel == Channel.EMAIL else []
    if original.channel == Channel.EMAIL and not recipients:
        raise ValidationError(
            "to", f"delivery {delivery_id} has no recipients: give an address to send it to"
        )
    now = utcnow()
    copy = Delivery(
        event_id=original.event_id,
        tenant_id=original.tenant_id,
        event=original.event,
        channel=original.channel,
        target=target,
        mail_server_id=original.mail_server_id,
        status=DeliveryStatus.QUEUED,
        sender=original.sender,
        pending=recipients or [target],
        results={},
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        resent_from=original.id,
    )
    session.add(copy)
    session.flush()  # the copy's id: Slack's and webhooks' messages name it
    assert copy.id is not None
    owner = session.get(Tenant, original.tenant_id) if original.tenant_id else None
    if original.channel == Channel.EMAIL:
        _email_copy(session, box, original, copy, address)
    else:
        store_message(session, copy.id, _channel_copy(session, box, original, copy, owner))
    slug = owner.slug if owner else None
    record(
        session,
        actor=actor,
        action="delivery.resend",
        tenant=slug,
        target=f"delivery:{original.id}",
        fields=["to"] if address else [],
    )
    session.commit()
    session.refresh(copy)
    return DeliveryRead(**delivery_public(copy, tenant_slug=slug))


def _email_copy(
    session: Session, box: SecretBox, original: Delivery, copy: Delivery, to: str | None
) -> None:
    assert original.id is not None and copy.id is not None
    stored = message_of(session, original.id)
    server = session.get(MailServer, original.mail_server_id) if original.mail_server_id else None
    if stored and server is not None:
        raw, message_id = readdressed(box.decrypt_bytes(stored), sender=original.sender, to=to)
        copy.message_id = message_id
        store_message(session, copy.id, box.encrypt_bytes(raw))
        return
    if original.is_digest:
        raise ValidationError(
            "delivery", f"digest {original.id} has no message to send again (it never closed)"
        )
    render_email(session=session, box=box, delivery=copy, action="resend")


def _channel_copy(
    session: Session, box: SecretBox, original: Delivery, copy: Delivery, owner: Tenant | None
) -> bytes:
    """The copy's message on a channel whose messages name their delivery id."""
    assert original.id is not None and copy.id is not None
    stored = message_of(session, original.id)
    if original.event == INBOUND_EVENT:  # mirrored mail: nothing to render it from
        if not stored:
            raise ValidationError("delivery", f"delivery {original.id} has no message to copy")
        return stored
    event = session.get(EventRecord, original.event_id)
    assert event is not None
    data: dict[str, Any] = (
        json.loads(box.decrypt_bytes(event.payload_enc))
        if event.payload_enc is not None
        else dict(event.payload)
    )
    route = None
    if original.channel == Channel.WEBHOOK:  # the stored message begins with the target's id
        from core.channels.webhook.render import parse_stored

        if not stored:
            raise ValidationError("delivery", f"delivery {original.id} has no webhook target")
        route = parse_stored(box.decrypt_bytes(stored))[0]
    prepared = PreparedEmit(
        box=box,
        spec=get_event(original.event),
        tenant=owner,
        key=None,
        shown=event.payload,
        payload_enc=event.payload_enc or b"",
        rows=[],
        data=data,
    )
    row = DeliveryRow(copy.channel, copy.target, status=copy.status, pending=[], route=route)
    message = renderer(copy.channel).message(prepared, row, copy.id, event.created_at)
    return message if message is not None else stored
