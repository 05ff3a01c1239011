"""Writing emitted events: the result types, and `write_emits` (one INSERT per table).

`core.pipeline.emit` prepares an event (validation, toggle, server, rendering: `PreparedEmit`);
this module writes prepared events, alone (`emit`) or many at once (the API's group writes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from core.catalog import Event
from core.crypto import SecretBox
from core.models._common import utcnow
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import Tenant
from core.pipeline.contents import insert_contents
from core.slack_blocks import alert_message

EVENT = EventRecord.__table__  # type: ignore[attr-defined]
DELIVERY = Delivery.__table__  # type: ignore[attr-defined]


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

    box: SecretBox  # Slack alerts are encrypted once their delivery ids are known
    spec: Event
    tenant: Tenant | None
    key: str | None
    shown: dict[str, Any]
    payload_enc: bytes
    rows: list[dict[str, Any]]


def _delivery_values(
    row: dict[str, Any], prepared: PreparedEmit, event_id: int, now: datetime
) -> dict[str, Any]:
    """A delivery row with the values the ORM would default, written out (its `content` goes
    to another table)."""
    return {
        **row,
        "event": prepared.spec.name,
        "event_id": event_id,
        "tenant_id": prepared.tenant.id if prepared.tenant else None,
        "attempts": 0,
        "results": {},
        "reply": None,
        "next_attempt_at": now,
        "lease_owner": None,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
    }


def _insert_returning_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT … RETURNING id (pages of up to 1,000 rows); ids in `rows`' order."""
    connection = session.connection()
    statement = insert(table)
    if connection.dialect.name != "sqlite":
        returning = statement.returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(returning, rows).scalars())
    # SQLite numbers the rows of one INSERT in the order of its VALUES (each gets the largest
    # rowid plus one, under the write lock), so ascending ids are the rows' order. Asking
    # SQLAlchemy to sort would make it insert the rows one statement at a time on SQLite.
    return sorted(connection.execute(statement.returning(table.c.id), rows).scalars())


def _slack_message(prepared: PreparedEmit, delivery_id: int, *, at: datetime) -> bytes:
    """The alert's context line names its delivery id, known only after the insert."""
    message = alert_message(
        event=prepared.spec,
        payload=prepared.shown,
        tenant=prepared.tenant.slug if prepared.tenant else None,
        delivery_id=delivery_id,
        at=at,
    )
    return prepared.box.encrypt_bytes(json.dumps(message).encode())


def write_emits(session: Session, batch: list[PreparedEmit]) -> list[EmitResult]:
    """Write the events of `batch` and their deliveries: one INSERT for the events, one for the
    deliveries, whatever the batch's size (the API writes events posted together this way).

    The caller commits. Two events of the batch with the same key, or a key another process
    wrote meanwhile, raise `IntegrityError`.
    """
    if not batch:
        return []
    now = utcnow()
    event_ids = _insert_returning_ids(
        session,
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
        [_delivery_values(row, prepared, event_id, now) for row in prepared.rows]
        for prepared, event_id in zip(batch, event_ids, strict=True)
    ]
    flat = [row for rows in values for row in rows]
    # The messages go to their own table (delivery_content), under the deliveries' ids.
    columns = [{k: v for k, v in row.items() if k != "content"} for row in flat]
    ids = iter(_insert_returning_ids(session, DELIVERY, columns) if flat else [])
    delivery_ids = [[next(ids) for _ in rows] for rows in values]
    contents = []
    for prepared, rows, row_ids in zip(batch, values, delivery_ids, strict=True):
        for delivery_id, row in zip(row_ids, rows, strict=True):
            if row["channel"] == "slack":
                row["content"] = _slack_message(prepared, delivery_id, at=now)
            contents.append((delivery_id, row["content"]))
    insert_contents(session.connection(), contents)
    return [
        EmitResult(
            event_id=event_id,
            deliveries=[
                EmittedDelivery(id=i, **{k: v for k, v in row.items() if k in _FIELDS})
                for i, row in zip(row_ids, rows, strict=True)
            ],
        )
        for event_id, rows, row_ids in zip(event_ids, values, delivery_ids, strict=True)
    ]
