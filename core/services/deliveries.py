"""The delivery log: list (in pages), show with every attempt, retry failed ones by hand
(new copies of any delivery: core/services/resend.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.catalog import get_event
from core.channels.email.render import fill_content
from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.delivery import STATUSES, Delivery, DeliveryAttempt, EventRecord
from core.models.delivery_read import DeliveryAttemptRead, DeliveryDetail, DeliveryRead
from core.models.tenancy import Tenant
from core.pipeline.contents import message_of
from core.pipeline.emit_config import owner_config
from core.pipeline.emit_write import EmittedDelivery
from core.services.audit import Actor, record
from core.services.mail_servers import resolve_effective_server
from core.services.slack_inbox import INBOUND_EVENT
from core.services.templates import effective_template
from core.vocabulary import ROW_ID_MAX, Channel, DeliveryStatus

PAGE_MAX = 1000  # the most rows one page of the log may ask for


def _names_a_row(delivery_id: int) -> bool:
    return 1 <= delivery_id <= ROW_ID_MAX


def list_deliveries(
    *,
    session: Session,
    tenant: Tenant | None = None,
    status: str | None = None,
    event: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
    since: datetime | None = None,
) -> list[Delivery]:
    """One page of the delivery log, newest first (by id).

    Keyset paging: `before_id` (the last id of the previous page) gives the next older page,
    so a page costs the same however deep it is and rows added meanwhile do not shift it.
    The messages (`delivery_content`) are not read: a list never needs them.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
        raise ValidationError("limit", f"{limit!r} is not between 1 and {PAGE_MAX}")
    query = select(Delivery).order_by(col(Delivery.id).desc()).limit(limit)
    if before_id is not None and before_id <= ROW_ID_MAX:  # past the largest id: every row
        # ids start at 1: anything lower means no row, and stays inside the driver's range
        query = query.where(col(Delivery.id) < max(before_id, 0))
    if tenant is not None:
        query = query.where(Delivery.tenant_id == tenant.id)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(Delivery.status == status)
    if event is not None:
        inbound = event.upper() == INBOUND_EVENT
        name = INBOUND_EVENT if inbound else get_event(event, field="event").name
        query = query.where(Delivery.event == name)
    if since is not None:
        query = query.where(col(Delivery.created_at) >= since)
    return list(session.exec(query))


def delivery_log(
    *,
    session: Session,
    tenant: Tenant | None = None,
    status: str | None = None,
    event: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
    since: datetime | None = None,
) -> list[DeliveryRead]:
    """One page of the delivery log as front ends show it (`list_deliveries`' rules); `since`:
    only deliveries created from then on."""
    page = list_deliveries(
        session=session,
        tenant=tenant,
        status=status,
        event=event,
        before_id=before_id,
        limit=limit,
        since=since,
    )
    slugs = _slugs_of(session, page, tenant)
    return [_read(d, slugs.get(d.tenant_id or 0)) for d in page]


def read_delivery(
    *, session: Session, delivery_id: int, tenant: Tenant | None = None
) -> DeliveryDetail:
    """One delivery in full: per-recipient outcomes and every send attempt, oldest first."""
    delivery = get_delivery(session=session, delivery_id=delivery_id, tenant=tenant)
    slug = _slugs_of(session, [delivery], tenant).get(delivery.tenant_id or 0)
    attempts = list_attempts(session=session, delivery_id=delivery_id)
    return DeliveryDetail(
        **_read(delivery, slug).model_dump(),
        pending=delivery.pending,
        recipients=delivery.results,
        reply=delivery.reply,
        next_attempt_at=delivery.next_attempt_at
        if delivery.status == DeliveryStatus.QUEUED
        else None,
        updated_at=delivery.updated_at,
        resent_from=delivery.resent_from,
        digest_id=delivery.digest_id,
        edit_of=delivery.edit_of,
        history=[
            DeliveryAttemptRead(at=a.at, outcome=a.outcome, detail=a.detail, worker=a.worker)
            for a in attempts
        ],
    )


def _read(delivery: Delivery, tenant_slug: str | None) -> DeliveryRead:
    assert delivery.id is not None
    return DeliveryRead(**delivery_public(delivery, tenant_slug=tenant_slug))


def _slugs_of(
    session: Session, deliveries: Sequence[Delivery], tenant: Tenant | None
) -> dict[int, str]:
    """The slugs of the tenants these deliveries belong to (one query, none for one tenant)."""
    if tenant is not None and tenant.id is not None:
        return {tenant.id: tenant.slug}
    ids = {d.tenant_id for d in deliveries if d.tenant_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(Tenant).where(col(Tenant.id).in_(ids)))
    return {t.id: t.slug for t in rows if t.id is not None}


def list_attempts(*, session: Session, delivery_id: int) -> list[DeliveryAttempt]:
    """Every send attempt of a delivery, oldest first (a manual retry is not an attempt)."""
    if not _names_a_row(delivery_id):
        return []
    query = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(col(DeliveryAttempt.id))
    )
    return list(session.exec(query))


def get_delivery(*, session: Session, delivery_id: int, tenant: Tenant | None = None) -> Delivery:
    """A delivery by id; with `tenant`, only that tenant's (another tenant's is not found)."""
    delivery = session.get(Delivery, delivery_id) if _names_a_row(delivery_id) else None
    if delivery is None or (tenant is not None and delivery.tenant_id != tenant.id):
        raise NotFound(f"delivery {delivery_id} does not exist")
    return delivery


def read_message(
    *, session: Session, box: SecretBox, delivery_id: int, tenant: Tenant | None = None
) -> tuple[bytes, list[str]] | None:
    """A delivery's message as its channel sent it (decrypted), and the secret payload values
    (a new user's password, also URL-encoded) a viewer must mask; None when it has none."""
    import json
    from urllib.parse import quote_plus

    from core.pipeline.emit import SECRET_PAYLOAD_FIELDS

    delivery = get_delivery(session=session, delivery_id=delivery_id, tenant=tenant)
    content = message_of(session, delivery_id)
    if not content:
        return None
    event = session.get(EventRecord, delivery.event_id)
    secrets: list[str] = []
    if event is not None and event.payload_enc is not None:
        payload = json.loads(box.decrypt_bytes(event.payload_enc))
        secrets = [str(payload[name]) for name in SECRET_PAYLOAD_FIELDS if payload.get(name)]
    message = box.decrypt_bytes(content)
    if delivery.channel == Channel.WEBHOOK:  # stored with its target's id in front
        from core.channels.webhook.render import parse_stored

        message = parse_stored(message)[1]
    return message, [*secrets, *(quote_plus(v) for v in secrets)]


def retry_delivery(
    *,
    session: Session,
    box: SecretBox,
    delivery_id: int,
    actor: Actor,
    tenant: Tenant | None = None,
) -> Delivery:
    """Queue a failed delivery again, to the recipients that did not get it.

    A delivery that never had a message (not configured, server deleted, template error) is
    rendered now, through today's effective server and template.
    """
    delivery = get_delivery(session=session, delivery_id=delivery_id, tenant=tenant)
    if delivery.status == DeliveryStatus.PARTIAL:
        raise ValidationError(
            "status",
            f"delivery {delivery_id} is partial: it is final (some recipients got it, the "
            "others refused it for good); resend it to send a new copy",
        )
    if delivery.status != DeliveryStatus.FAILED:
        raise ValidationError(
            "status",
            f"delivery {delivery_id} is {delivery.status}: only failed ones can be retried",
        )
    # A digest is rendered by the worker, from its held deliveries (core/pipeline/digest_close).
    if delivery.channel == "email" and not delivery.is_digest:
        needs_render = delivery.mail_server_id is None or not message_of(session, delivery_id)
        if needs_render:
            render_email(session=session, box=box, delivery=delivery, action="retry")
    status_before = delivery.status
    unsent = [a for a, r in delivery.results.items() if r.get("status") != "sent"]
    delivery.pending = unsent or [a for a in delivery.target.split(",") if a]
    delivery.status = DeliveryStatus.QUEUED
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    session.add(delivery)
    tenant_slug = None
    if delivery.tenant_id is not None:
        owner_row = session.get(Tenant, delivery.tenant_id)
        tenant_slug = owner_row.slug if owner_row else None
    record(
        session,
        actor=actor,
        action="delivery.retry",
        tenant=tenant_slug,
        target=f"delivery:{delivery.id}",
        changes={"status": (status_before, delivery.status)},
    )
    session.commit()
    return delivery


def render_email(*, session: Session, box: SecretBox, delivery: Delivery, action: str) -> None:
    """Render `delivery`'s event again from its stored payload, through the owner's effective
    server and template of today, for the delivery's recipients (`target`); the message is
    stored in the session's transaction."""
    owner = session.get(Tenant, delivery.tenant_id) if delivery.tenant_id else None
    server = resolve_effective_server(session=session, tenant=owner).server
    if server is None:
        raise ValidationError(
            "mail_server", f"still not configured: add a mail server, then {action}"
        )
    event = session.get(EventRecord, delivery.event_id)
    assert event is not None and event.payload_enc is not None
    spec = get_event(delivery.event)
    payload = spec.payload.model_validate_json(box.decrypt_bytes(event.payload_enc))
    locale = owner_config(session, owner).locality.locale
    template = effective_template(session=session, tenant=owner, name=spec.name, locale=locale)
    fill_content(
        delivery,
        session=session,
        box=box,
        spec=spec,
        payload=payload,
        server=server,
        template=template,
    )


def delivery_public(
    delivery: Delivery | EmittedDelivery, *, tenant_slug: str | None
) -> dict[str, Any]:
    """The row shape of `deliveries list --json` (DESIGN §4)."""
    return {
        "id": delivery.id,
        "event": delivery.event,
        "tenant": tenant_slug,
        "channel": delivery.channel,
        "target": delivery.target,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "message_id": delivery.message_id,
        "created_at": delivery.created_at,
        "sent_at": delivery.sent_at,
    }
