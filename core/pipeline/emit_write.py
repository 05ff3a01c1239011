"""Writing emitted events: the result types, and `write_emits` (one INSERT per table).

`core.pipeline.emit` prepares an event (validation, toggle, routes, rendering: `PreparedEmit`);
this module writes prepared events, alone (`emit`) or many at once (the API's group writes).
The statements themselves are in core/pipeline/outbox.py.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlmodel import Session

from core.catalog import Event
from core.channels.registry import renderer
from core.crypto import SecretBox
from core.digest_policy import DigestPolicy
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.tenancy import Tenant
from core.pipeline.digests import hold_bursts
from core.pipeline.outbox import (
    DELIVERY,
    EVENT,
    DeliveryRow,
    delivery_values,
    insert_contents,
    insert_returning_ids,
)
from core.vocabulary import DeliveryStatus


@dataclass(frozen=True, slots=True)
class EmittedDelivery:
    """A delivery as emit wrote it (or found it, for a repeated key): the row's values."""

    id: int
    event_id: int
    tenant_id: int | None
    event: str
    channel: str
    target: str
    mail_server_id: int | None
    status: str
    last_error: str | None
    sender: str
    pending: list[str]
    content: bytes
    message_id: str | None
    created_at: datetime
    attempts: int = 0
    sent_at: datetime | None = None

    @classmethod
    def of(cls, row: Delivery, content: bytes) -> EmittedDelivery:
        assert row.id is not None
        values = {name: getattr(row, name) for name in _FIELDS if name != "content"}
        return cls(**values, content=content)


_FIELDS = tuple(f.name for f in fields(EmittedDelivery))


@dataclass(frozen=True)
class EmitResult:
    event_id: int
    deliveries: list[EmittedDelivery]
    duplicate: bool = False


@dataclass(frozen=True)
class PreparedEmit:
    """An event validated and rendered, its rows not yet written (`write_emits`)."""

    box: SecretBox  # messages that name their delivery id are encrypted once it is known
    spec: Event
    tenant: Tenant | None
    key: str | None
    shown: dict[str, Any]  # the payload for display: secrets redacted
    payload_enc: bytes
    rows: list[DeliveryRow]
    # The whole payload as JSON values, for channels whose message carries it (webhooks).
    data: dict[str, Any] | None = None
    # The owner's digest policy for this event (None: off); core/pipeline/digests.py.
    digest: DigestPolicy | None = None


def write_emits(session: Session, batch: list[PreparedEmit]) -> list[EmitResult]:
    """Write the events of `batch` and their deliveries: one INSERT for the events, one for the
    deliveries, whatever the batch's size (the API writes events posted together this way).

    The caller commits. Two events of the batch with the same key, or a key another process
    wrote meanwhile, raise `IntegrityError`.
    """
    if not batch:
        return []
    now = utcnow()
    connection = session.connection()
    event_ids = insert_returning_ids(
        connection,
        EVENT,
        [
            {
                "tenant_id": prepared.tenant.id if prepared.tenant else None,
                "name": prepared.spec.name,
                "key": prepared.key,
                "payload": prepared.shown,
                "payload_enc": prepared.payload_enc,
                "created_at": now,
            }
            for prepared in batch
        ],
    )
    values = [
        [
            delivery_values(
                row,
                event=prepared.spec.name,
                event_id=event_id,
                tenant_id=prepared.tenant.id if prepared.tenant else None,
                now=now,
            )
            for row in prepared.rows
        ]
        for prepared, event_id in zip(batch, event_ids, strict=True)
    ]
    # After the first write (the events): SQLite's write lock is held, so bursts read current.
    holds = hold_bursts(connection, batch, event_ids, now)
    if holds is not None:
        for b, rows in enumerate(values):
            for r, columns in enumerate(rows):
                digest_id = holds.digest_of.get((b, r))
                columns["digest_id"] = digest_id  # every row: one INSERT takes one shape
                if digest_id is not None:
                    columns.update(status=str(DeliveryStatus.HELD), pending=[])
    flat = [row for rows in values for row in rows]
    # The messages go to their own table (delivery_content), under the deliveries' ids.
    ids = iter(insert_returning_ids(connection, DELIVERY, flat) if flat else [])
    delivery_ids = [[next(ids) for _ in rows] for rows in values]
    contents = []
    results = []
    for prepared, event_id, rows, row_ids in zip(
        batch, event_ids, values, delivery_ids, strict=True
    ):
        emitted = []
        for delivery_id, row, columns in zip(row_ids, prepared.rows, rows, strict=True):
            message = renderer(row.channel).message(prepared, row, delivery_id, now)
            content = row.content if message is None else message
            contents.append((delivery_id, content))
            emitted.append(
                EmittedDelivery(
                    id=delivery_id,
                    content=content,
                    **{k: v for k, v in columns.items() if k in _FIELDS},
                )
            )
        results.append(EmitResult(event_id=event_id, deliveries=emitted))
    if holds is not None:
        for b, columns in holds.created:  # a digest is listed with the event that opened it
            digest = EmittedDelivery(
                content=b"", **{k: v for k, v in columns.items() if k in _FIELDS}
            )
            results[b].deliveries.append(digest)
            results[b].deliveries.sort(key=lambda d: d.id)
    insert_contents(connection, contents)
    return results
