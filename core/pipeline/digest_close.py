"""Digests, the worker side: a claimed digest whose window is over is closed and rendered.

A digest delivery is queued for its window's end without a message. The worker that claims it
(on its database thread, before the batch's sends) closes it in one transaction: it detaches
the digest from its burst (`UPDATE … WHERE digest_id = X`, which waits for an emit holding the
burst's lock; afterwards no held delivery can name X), reads the deliveries held into it, has
the channel's renderer write the one message listing them, and stores that message. From then
on the digest is a delivery like any other: retries, attempts, the log. A worker killed after
the commit leaves a digest with its message, which the next claim simply sends; killed before
it, nothing happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from core.channels.base import ClaimedDelivery, DigestDraft, HeldItem
from core.channels.registry import renderer
from core.crypto import SecretBox
from core.errors import MailbellError
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.pipeline.digests import BURST, RETIRED_MARK
from core.pipeline.outbox import DELIVERY, EVENT, Outcome, insert_contents
from core.vocabulary import DIGEST_ITEMS_MAX, DeliveryStatus

log = logging.getLogger(__name__)
# A digest that could not be closed (the database went away mid-way, a bug) is due again after
# this long; its held deliveries wait with it.
CLOSE_RETRY_S = 30.0

_DETACH = (
    update(BURST)
    .where(BURST.c.digest_id == bindparam("d"))
    .values(digest_id=None, held_last_window=True)
    .returning(BURST.c.burst_key, BURST.c.opened_at, BURST.c.closes_at)
)
_HELD_WHERE = (DELIVERY.c.digest_id == bindparam("d"), DELIVERY.c.status == DeliveryStatus.HELD)
_HELD = (
    select(DELIVERY.c.id, DELIVERY.c.event_id, EVENT.c.created_at, EVENT.c.payload)
    .join(EVENT, EVENT.c.id == DELIVERY.c.event_id)
    .where(*_HELD_WHERE)
    .order_by(DELIVERY.c.id)
    .limit(DIGEST_ITEMS_MAX)
)
_COUNT = select(func.count()).select_from(DELIVERY).where(*_HELD_WHERE)


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime | None = None
    end: datetime | None = None


def _detach(connection: Connection, digest_id: int) -> _Window:
    """Take the digest off its burst under the burst's lock; the window it covered."""
    rows = connection.execute(_DETACH, {"d": digest_id}).all()
    if not rows and connection.dialect.name == "postgresql":
        # The statement may have waited for an emit that replaced the window and kept this
        # digest's in a row of its own, committed after the statement's snapshot: look again.
        rows = connection.execute(_DETACH, {"d": digest_id}).all()
    retired = [row.burst_key for row in rows if RETIRED_MARK in row.burst_key]
    if retired:
        connection.execute(delete(BURST).where(BURST.c.burst_key.in_(retired)))
    if not rows:
        return _Window()
    return _Window(min(row.opened_at for row in rows), max(row.closes_at for row in rows))


def _items(connection: Connection, digest_id: int) -> tuple[list[HeldItem], int]:
    rows = connection.execute(_HELD, {"d": digest_id}).all()
    items = [HeldItem(row.id, row.event_id, row.created_at, dict(row.payload)) for row in rows]
    total = len(items)
    if total >= DIGEST_ITEMS_MAX:
        total = int(connection.execute(_COUNT, {"d": digest_id}).scalar_one())
    return items, total


def _close(engine: Engine, box: SecretBox, delivery: ClaimedDelivery) -> Outcome | None:
    """Close one digest: its message set on `delivery` (None returned), or the outcome that
    ends it unsent."""
    with Session(engine, expire_on_commit=False) as session:
        connection = session.connection()
        window = _detach(connection, delivery.id)
        items, total = _items(connection, delivery.id)
        if not items:  # cannot happen (a digest is made by its first held event); say so
            session.commit()
            return _ended(delivery, DeliveryStatus.SUPPRESSED, "digest with no held events")
        tenant = session.get(Tenant, delivery.tenant_id) if delivery.tenant_id else None
        draft = DigestDraft(
            session=session,
            box=box,
            tenant=tenant,
            event=delivery.event,
            channel=delivery.channel,
            target=delivery.target,
            delivery_id=delivery.id,
            mail_server_id=delivery.mail_server_id,
            items=items,
            total=total,
            window_start=window.start or items[0].at,
            window_end=window.end or items[-1].at,
        )
        try:
            rendered = renderer(delivery.channel).digest(draft)
        except MailbellError as exc:
            # Detached all the same: a retry by hand renders it again from its held rows.
            session.commit()
            return _ended(delivery, DeliveryStatus.FAILED, f"digest not rendered: {exc}")
        insert_contents(connection, [(delivery.id, rendered.content)])
        if rendered.message_id is not None:
            connection.execute(
                update(DELIVERY)
                .where(DELIVERY.c.id == delivery.id)
                .values(message_id=rendered.message_id)
            )
        session.commit()
    delivery.content = rendered.content
    return None


def _ended(delivery: ClaimedDelivery, status: str, error: str) -> Outcome:
    return Outcome(
        id=delivery.id,
        status=status,
        pending=[],
        results=delivery.results,
        last_error=error,
        attempts_delta=-1,  # nothing was sent
        attempt="failed" if status == DeliveryStatus.FAILED else None,
        detail=error,
    )


def _later(delivery: ClaimedDelivery, error: str) -> Outcome:
    return Outcome(
        id=delivery.id,
        status=DeliveryStatus.QUEUED,
        pending=delivery.pending,
        results=delivery.results,
        last_error=error,
        next_attempt_at=utcnow() + timedelta(seconds=CLOSE_RETRY_S),
        attempts_delta=-1,
    )


def close_claimed(
    engine: Engine, box: SecretBox, claimed: list[ClaimedDelivery]
) -> tuple[list[ClaimedDelivery], list[Outcome]]:
    """The claimed deliveries ready to send (digests closed and rendered in place), and the
    outcomes of digests that will not be sent now. Costs nothing unless a claimed digest has
    no message yet (one closed by a worker that died has it, and is sent as any delivery)."""
    digests = {d.id for d in claimed if d.is_digest and not d.content}
    if not digests:
        return claimed, []
    ready: list[ClaimedDelivery] = []
    ended: list[Outcome] = []
    for delivery in claimed:
        if delivery.id not in digests:
            ready.append(delivery)
            continue
        outcome: Any
        try:
            outcome = _close(engine, box, delivery)
        except Exception as exc:  # the database went away, a renderer's bug: try again later
            log.exception("digest %s not closed, retrying later", delivery.id)
            outcome = _later(delivery, f"digest not closed: {type(exc).__name__}")
        if outcome is None:
            ready.append(delivery)
        else:
            ended.append(outcome)
    return ready, ended
