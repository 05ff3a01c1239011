"""Delivery messages (`delivery_content`): written once, read by the claim and the log.

Here: one message at a time, through the ORM (the delivery log, a resend); the batched
statements of emit and the worker are in core/pipeline/outbox.py.

The message lives apart from its delivery row so that the worker's updates of that row stay
small (see `core.models.delivery.DeliveryContent`).
"""

from __future__ import annotations

from sqlmodel import Session

from core.models.delivery import DeliveryContent

# The hot-path reads and writes live with the rest of the outbox's SQL.
from core.pipeline.outbox import insert_contents, read_contents

__all__ = ["insert_contents", "message_of", "read_contents", "store_message"]


def message_of(session: Session, delivery_id: int) -> bytes:
    """A delivery's encrypted message; b"" when it has none."""
    row = session.get(DeliveryContent, delivery_id)
    return row.content if row is not None else b""


def store_message(session: Session, delivery_id: int, content: bytes) -> None:
    """Set (or replace) a delivery's message, in the session's transaction."""
    session.merge(DeliveryContent(delivery_id=delivery_id, content=content))
