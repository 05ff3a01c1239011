"""An event's webhook deliveries: one per target of the owner that takes the event.

A delivery's target is the URL (what the delivery log shows); its stored message is the
target's id on the first line, then the exact JSON body. The body is signed at send time (the
timestamp is the POST's), by the worker, with the target's current secret.

`data` is the whole payload, as the email of the event gets it, not the redacted copy the event
row and Slack show: a webhook is a machine endpoint the owner chose, in place of (or next to)
an email to the same owner, and integrations need what the email says (a welcome's password
included, as the welcome email carries it). So it is treated like an email's message:
encrypted at rest, signed, never logged, never part of an error or the delivery log.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from core.channels.base import Renderer
from core.channels.webhook.body import webhook_body
from core.models._common import owned_by
from core.models.tenancy import Tenant
from core.models.webhooks import WebhookTarget
from core.pipeline.outbox import DeliveryRow
from core.vocabulary import Channel, DeliveryStatus

if TYPE_CHECKING:
    from core.pipeline.emit_config import EmitDraft
    from core.pipeline.emit_write import PreparedEmit


def webhook_routes(session: Session, tenant: Tenant | None, event: str) -> list[tuple[int, str]]:
    """(id, URL) of the owner's targets that take `event` (no events listed: all of them)."""
    owner = owned_by(WebhookTarget.tenant_id, tenant)
    rows = session.exec(
        select(WebhookTarget.id, WebhookTarget.url, WebhookTarget.events)
        .where(owner)
        .order_by(col(WebhookTarget.id))
    ).all()
    return [(id_, url) for id_, url, events in rows if id_ and (not events or event in events)]


def stored_message(target_id: int, body: bytes) -> bytes:
    return b"%d\n%s" % (target_id, body)


def parse_stored(message: bytes) -> tuple[int, bytes]:
    """(target id, body) of a stored message; ValueError when it is not one."""
    head, _, body = message.partition(b"\n")
    return int(head), body


class WebhookRenderer(Renderer):
    name = Channel.WEBHOOK

    def rows(self, draft: EmitDraft) -> list[DeliveryRow]:
        if not draft.enabled:
            return []
        name = draft.spec.name
        routes = draft.config.targets(
            self.name, name, lambda: webhook_routes(draft.session, draft.tenant, name)
        )
        return [
            DeliveryRow(self.name, url, status=DeliveryStatus.QUEUED, pending=[url], route=id_)
            for id_, url in routes
        ]

    def message(
        self, prepared: PreparedEmit, row: DeliveryRow, delivery_id: int, at: datetime
    ) -> bytes:
        """The body names its delivery id (the receiver's idempotency key), known only now."""
        body = webhook_body(
            event=prepared.spec.name,
            tenant=prepared.tenant.slug if prepared.tenant else None,
            data=prepared.data if prepared.data is not None else prepared.shown,
            delivery_id=delivery_id,
            occurred_at=at,
        )
        return prepared.box.encrypt_bytes(stored_message(int(row.route), body))
