"""An emitted event as it was recorded (its name, key, payload with secrets redacted) and the
deliveries it made, for `GET /api/v1/events/{id}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from core.errors import NotFound
from core.models.delivery import Delivery, EventRecord
from core.models.delivery_read import DeliveryRead
from core.models.tenancy import Tenant
from core.services.deliveries import delivery_public
from core.vocabulary import ROW_ID_MAX

# An event fans out to a handful of deliveries (channels x routes); this bounds a pathological one.
EVENT_DELIVERIES_MAX = 1000


class EventDetail(BaseModel):
    id: int
    event: str
    key: str | None
    tenant: str | None  # slug; None for a system event
    data: dict[str, Any]  # the payload as stored for display (a new user's password redacted)
    created_at: datetime
    deliveries: list[DeliveryRead]  # oldest first


def read_event(*, session: Session, event_id: int, tenant: Tenant | None = None) -> EventDetail:
    """Event `event_id` with its deliveries; with `tenant`, only that tenant's (another's, or a
    system event, is not found)."""
    event = session.get(EventRecord, event_id) if 1 <= event_id <= ROW_ID_MAX else None
    if event is None or (tenant is not None and event.tenant_id != tenant.id):
        raise NotFound(f"event {event_id} does not exist")
    owner = session.get(Tenant, event.tenant_id) if event.tenant_id is not None else None
    slug = owner.slug if owner is not None else None
    rows = session.exec(
        select(Delivery)
        .where(Delivery.event_id == event_id)
        .order_by(col(Delivery.id))
        .limit(EVENT_DELIVERIES_MAX)
    )
    assert event.id is not None
    return EventDetail(
        id=event.id,
        event=event.name,
        key=event.key,
        tenant=slug,
        data=event.payload,
        created_at=event.created_at,
        deliveries=[DeliveryRead(**delivery_public(row, tenant_slug=slug)) for row in rows],
    )
