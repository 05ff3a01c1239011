"""Delivery messages (`delivery_content`): written once, read by the claim and the log.

The message lives apart from its delivery row so that the worker's updates of that row stay
small (see `core.models.delivery.DeliveryContent`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from core.models.delivery import DeliveryContent

CONTENT = DeliveryContent.__table__  # type: ignore[attr-defined]
_READ = sa_select(CONTENT.c.delivery_id, CONTENT.c.content).where(
    CONTENT.c.delivery_id.in_(bindparam("ids", expanding=True))
)


def insert_contents(connection: Connection, contents: Sequence[tuple[int, bytes]]) -> None:
    """Store the messages of new deliveries: (delivery id, encrypted message) pairs; empty
    messages (nothing to send) are not stored."""
    rows = [{"delivery_id": i, "content": content} for i, content in contents if content]
    if rows:
        connection.execute(insert(CONTENT), rows)


def read_contents(connection: Connection, delivery_ids: Iterable[int]) -> dict[int, bytes]:
    """The messages of these deliveries by id; one without a message is left out."""
    ids = list(delivery_ids)
    if not ids:
        return {}
    return {row[0]: row[1] for row in connection.execute(_READ, {"ids": ids})}


def message_of(session: Session, delivery_id: int) -> bytes:
    """A delivery's encrypted message; b"" when it has none."""
    row = session.get(DeliveryContent, delivery_id)
    return row.content if row is not None else b""


def store_message(session: Session, delivery_id: int, content: bytes) -> None:
    """Set (or replace) a delivery's message, in the session's transaction."""
    session.merge(DeliveryContent(delivery_id=delivery_id, content=content))
