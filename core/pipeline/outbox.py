"""The outbox's hot-path SQL, in one module: emit's inserts, the worker's claims and records.

One row type per table: `DeliveryRow` (a delivery emit writes), `ClaimedDelivery`
(core/channels/base.py: what a claim returns), `Outcome` (what a record writes); events are
written from `PreparedEmit` (core/pipeline/emit_write.py), messages as (id, bytes) pairs. A new
`delivery` column is declared on the model (core/models/delivery.py), given a migration, and
added to the row type that carries it: the statements here take their columns from those types.

Each recorded outcome that was a real send attempt (not a pacing delay) also gets a row in
`delivery_attempt`, written in the same transaction: the history the delivery log shows.

Claims are one UPDATE … RETURNING: on PostgreSQL the inner SELECT takes `FOR UPDATE SKIP
LOCKED` so workers never wait on each other's rows; on SQLite the write lock serialises claims.
A lease's expiry is stored in `next_attempt_at`, so a killed worker's rows come due again
through the same index the normal claim uses. The messages are read by id from their own
table (`delivery_content`), which no update touches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import JSON, bindparam, exists, func, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from core.channels.base import ClaimedDelivery, StatusNote
from core.models._common import utcnow
from core.models.delivery import Delivery, DeliveryAttempt, DeliveryContent, EventRecord
from core.vocabulary import DeliveryStatus

EVENT = EventRecord.__table__  # type: ignore[attr-defined]
DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
CONTENT = DeliveryContent.__table__  # type: ignore[attr-defined]


# -- emit: new deliveries ---------------------------------------------------------------------


@dataclass(slots=True)
class DeliveryRow:
    """A delivery as a channel's renderer makes it, before it is written."""

    channel: str
    target: str
    status: str
    pending: list[str]
    last_error: str | None = None
    mail_server_id: int | None = None
    sender: str = ""
    message_id: str | None = None
    # An edit of this delivery's posted message (core/pipeline/alert_edits.py); not digestible.
    edit_of: int | None = None
    content: bytes = b""  # the encrypted message, stored in delivery_content
    route: Any = None  # the renderer's own reference for its `message` hook; not stored
    # Whether the row may be held into its burst's digest (a renderer with `digests`): False
    # for a message to one person (a welcome to the new user's own address). Not stored.
    digestible: bool = True


_NOT_STORED = ("content", "route", "digestible")
_ROW_COLUMNS = tuple(f.name for f in fields(DeliveryRow) if f.name not in _NOT_STORED)


def delivery_values(
    row: DeliveryRow, *, event: str, event_id: int, tenant_id: int | None, now: datetime
) -> dict[str, Any]:
    """The `delivery` row's columns, with the values the ORM would default written out."""
    values = {name: getattr(row, name) for name in _ROW_COLUMNS}
    values.update(
        # Plain strings, not the vocabulary's enum members: these values are also handed back
        # to front ends (`EmittedDelivery`).
        channel=str(row.channel),
        status=str(row.status),
        event=event,
        event_id=event_id,
        tenant_id=tenant_id,
        attempts=0,
        results={},
        reply=None,
        next_attempt_at=now,
        lease_owner=None,
        created_at=now,
        updated_at=now,
        sent_at=None,
    )
    return values


def insert_returning_ids(
    connection: Connection, table: Any, rows: list[dict[str, Any]]
) -> list[int]:
    """One multi-row INSERT … RETURNING id (pages of up to 1,000 rows); ids in `rows`' order."""
    statement = insert(table)
    if connection.dialect.name != "sqlite":
        returning = statement.returning(table.c.id, sort_by_parameter_order=True)
        return list(connection.execute(returning, rows).scalars())
    # SQLite numbers the rows of one INSERT in the order of its VALUES (each gets the largest
    # rowid plus one, under the write lock), so ascending ids are the rows' order. Asking
    # SQLAlchemy to sort would make it insert the rows one statement at a time on SQLite.
    return sorted(connection.execute(statement.returning(table.c.id), rows).scalars())


_READ_CONTENTS = sa_select(CONTENT.c.delivery_id, CONTENT.c.content).where(
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
    return {row[0]: row[1] for row in connection.execute(_READ_CONTENTS, {"ids": ids})}


# -- the worker: claims --------------------------------------------------------------------------

# The columns a claim returns: `ClaimedDelivery`'s fields that are `delivery` columns.
CLAIMED_COLUMNS: tuple[Any, ...] = tuple(
    getattr(Delivery, f.name) for f in fields(ClaimedDelivery) if f.name in DELIVERY.c
)


@cache
def _claim_statement() -> Any:
    """One UPDATE … RETURNING, built once: building it per claim cost more than running it."""
    due = (
        select(Delivery.id)
        .where(
            col(Delivery.status) == bindparam("c_status"),
            col(Delivery.next_attempt_at) <= bindparam("c_now"),
        )
        .order_by(col(Delivery.next_attempt_at))
        .limit(bindparam("c_limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(Delivery)
        .where(col(Delivery.id).in_(due))
        .values(
            status=DeliveryStatus.SENDING,
            lease_owner=bindparam("c_owner"),
            next_attempt_at=bindparam("c_lease_until"),
            attempts=Delivery.attempts + 1,
            updated_at=bindparam("c_now"),
        )
        .returning(*CLAIMED_COLUMNS)
    )


def _claim_status(
    session: Session, status: str, owner: str, limit: int, now: datetime, lease_s: float
) -> list[ClaimedDelivery]:
    parameters = {
        "c_status": status,
        "c_now": now,
        "c_limit": limit,
        "c_owner": owner,
        "c_lease_until": now + timedelta(seconds=lease_s),
    }
    # On the connection, not the session: the ORM's bulk-update bookkeeping cost a third of
    # a claim (bench/slack.py (b)).
    connection = session.connection()
    rows = connection.execute(_claim_statement(), parameters).all()
    messages = read_contents(connection, (row[0] for row in rows))
    claimed = [ClaimedDelivery(*row) for row in rows]  # CLAIMED_COLUMNS: the fields' order
    for delivery in claimed:
        delivery.content = messages.get(delivery.id, b"")
    return claimed


def claim(engine: Engine, *, owner: str, limit: int, lease_s: float) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries: expired leases first, then queued rows by due time."""
    now = utcnow()
    with Session(engine) as session:
        claimed = _claim_status(session, DeliveryStatus.SENDING, owner, limit, now, lease_s)
        if len(claimed) < limit:
            claimed += _claim_status(
                session, DeliveryStatus.QUEUED, owner, limit - len(claimed), now, lease_s
            )
        session.commit()
    return claimed


# -- the worker: outcomes ----------------------------------------------------------------------


@dataclass
class Outcome:
    """The new state of one delivery after an attempt (or a pacing delay)."""

    id: int
    status: str
    pending: list[str]
    results: dict[str, Any]
    last_error: str | None = None
    reply: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    attempts_delta: int = 0  # -1 when the attempt was only paced, not made
    # The attempt's own record (`delivery_attempt`); None when no send was tried (paced).
    attempt: str | None = None  # sent, partial, retry, failed
    detail: str | None = None  # the server's reply or the failing step; never a secret
    # What the event's posted alerts should now say about this delivery (an email final after
    # retries, or failed): core/pipeline/alert_edits.py queues their edits with the record.
    note: StatusNote | None = None


_RECORD = (
    update(Delivery)
    .where(col(Delivery.id) == bindparam("b_id"), col(Delivery.lease_owner) == bindparam("b_owner"))
    .values(
        status=bindparam("b_status"),
        pending=bindparam("b_pending", type_=JSON),
        results=bindparam("b_results", type_=JSON),
        last_error=bindparam("b_last_error"),
        lease_owner=None,
        updated_at=bindparam("b_now"),
        next_attempt_at=bindparam("b_next"),
        reply=func.coalesce(bindparam("b_reply"), Delivery.reply),
        sent_at=func.coalesce(bindparam("b_sent_at"), Delivery.sent_at),
        attempts=Delivery.attempts + bindparam("b_attempts_delta"),
    )
)


_ATTEMPT_COLUMNS = DeliveryAttempt.__table__.c  # type: ignore[attr-defined]
# INSERT … SELECT … WHERE EXISTS: a delivery deleted meanwhile (its tenant removed) gets no
# attempt row instead of a foreign-key error that would fail the whole batch.
_RECORD_ATTEMPT = insert(DeliveryAttempt).from_select(
    ["delivery_id", "at", "outcome", "detail", "worker"],
    sa_select(
        bindparam("a_id", type_=_ATTEMPT_COLUMNS.delivery_id.type),
        bindparam("a_at", type_=_ATTEMPT_COLUMNS.at.type),
        bindparam("a_outcome", type_=_ATTEMPT_COLUMNS.outcome.type),
        bindparam("a_detail", type_=_ATTEMPT_COLUMNS.detail.type),
        bindparam("a_worker", type_=_ATTEMPT_COLUMNS.worker.type),
    ).where(exists().where(col(Delivery.id) == bindparam("a_id"))),
)
DETAIL_MAX = 2000  # a chatty server's reply is clipped, not stored whole


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= DETAIL_MAX:
        return text
    return text[: DETAIL_MAX - 1] + "…"


NotedHook = Callable[[Connection, list[Outcome]], None]


def record(
    engine: Engine, outcomes: Sequence[Outcome], *, owner: str, noted: NotedHook | None = None
) -> None:
    """Write outcomes in one transaction: one statement (executemany) for the deliveries, one
    more for their attempt rows. Deliveries whose lease another worker took meanwhile are left
    alone; the attempt this worker made is still recorded, since it happened (the other worker's
    own attempt follows it in the history).

    `noted` gets the outcomes that carry a `note`, in the same transaction (the edits they
    make commit with them or not at all)."""
    if not outcomes:
        return
    now = utcnow()
    rows = [
        {
            "b_id": outcome.id,
            "b_owner": owner,
            "b_status": outcome.status,
            "b_pending": outcome.pending,
            "b_results": outcome.results,
            "b_last_error": outcome.last_error,
            "b_now": now,
            "b_next": outcome.next_attempt_at or now,
            "b_reply": outcome.reply,
            "b_sent_at": outcome.sent_at,
            "b_attempts_delta": outcome.attempts_delta,
        }
        for outcome in outcomes
    ]
    attempts = [
        {
            "a_id": outcome.id,
            "a_at": now,
            "a_outcome": outcome.attempt,
            "a_detail": _clip(outcome.detail),
            "a_worker": owner,
        }
        for outcome in outcomes
        if outcome.attempt is not None
    ]
    with engine.begin() as connection:
        connection.execute(_RECORD, rows)
        if attempts:
            connection.execute(_RECORD_ATTEMPT, attempts)
        if noted is not None and (with_note := [o for o in outcomes if o.note is not None]):
            noted(connection, with_note)


def release(engine: Engine, *, owner: str) -> int:
    """Give back every lease of `owner` (clean shutdown): its rows become due at once."""
    now = utcnow()
    with Session(engine) as session:
        result = session.execute(
            update(Delivery)
            .where(
                col(Delivery.status) == DeliveryStatus.SENDING, col(Delivery.lease_owner) == owner
            )
            .values(
                status=DeliveryStatus.QUEUED,
                lease_owner=None,
                next_attempt_at=now,
                attempts=Delivery.attempts - 1,
                updated_at=now,
            )
        )
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
