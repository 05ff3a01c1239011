"""Alerts that update in place: when what a posted alert says changes, its message is edited
(Slack's chat.update), not posted again.

What makes an edit (the pipeline decides; the channel renders, sends and classifies):
- an email of the event ends after more than one attempt, or ends failed or partial: each of
  the event's mirrors (a delivery of a channel whose renderer `edits`) gets the line "✓
  delivered by email … after 2 attempts" / "✗ email failed after 5 attempts: …"
  (`note_for` in the worker, `queue_edits` in the same transaction as the email's outcome). An
  email sent at its first attempt edits nothing: no extra call per event.
- a health recovery: the Slack messages of the subject's last alert get "✓ recovered at …"
  instead of a new post (`attach_edits`, core/health/alerts.py).

An edit is a delivery like any other (channel and target of the message it edits, `edit_of`
naming that delivery, its message the new version in full), so it is durable, retried with the
same classification, and logged. When it is claimed, `resolve_edits` looks up the edited
message's reference (Slack's ts, from its delivery's reply): an edit whose message is still
being sent waits for it (put back, the attempt not counted); one whose message never got posted
(failed for good, or gone) is posted itself, so the news is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import bindparam, false, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from core.channels.base import ClaimedDelivery, StatusNote
from core.channels.registry import renderer, renderers
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.pipeline.outbox import (
    DELIVERY,
    DeliveryRow,
    Outcome,
    delivery_values,
    insert_contents,
    insert_returning_ids,
    read_contents,
)
from core.vocabulary import Channel, DeliveryStatus

log = logging.getLogger(__name__)

# A mirror that is posted or will be: one held in a digest, suppressed or failed is not edited.
EDITABLE = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT)
_NOTES = {
    DeliveryStatus.SENT: "delivered",
    DeliveryStatus.PARTIAL: "partial",
    DeliveryStatus.FAILED: "failed",
}
# An edit waiting for its message's post looks again this soon, and at the latest this late.
WAIT_MIN_S, WAIT_MAX_S = 0.5, 300.0
REF_PREFIX = "ok ts="


@cache
def editing_channels() -> tuple[str, ...]:
    return tuple(str(r.name) for r in renderers() if r.edits)


def note_for(delivery: ClaimedDelivery, outcome: Outcome) -> StatusNote | None:
    """What an email's outcome has its event's posted alerts say; None when nothing (not an
    email, not final, a digest, or sent at the first attempt)."""
    kind = _NOTES.get(DeliveryStatus(outcome.status))
    if kind is None or delivery.channel != Channel.EMAIL or delivery.is_digest:
        return None
    if kind == "delivered" and delivery.attempts <= 1:
        return None
    at = outcome.sent_at or utcnow()
    return StatusNote(kind, at=at, attempts=delivery.attempts, reason=outcome.last_error)


# -- making edits --------------------------------------------------------------------------------

_EMAIL = aliased(Delivery, name="email")


@cache
def _mirrors_of_emails() -> Any:
    """The mirrors of the events of these just-recorded emails: one query, by primary key then
    `ix_delivery_event`. An email another worker holds again (its lease) is left to that one."""
    mirror = Delivery
    return (
        select(
            col(_EMAIL.id),
            col(mirror.id),
            col(mirror.event_id),
            col(mirror.tenant_id),
            col(mirror.event),
            col(mirror.channel),
            col(mirror.target),
        )
        .join(mirror, col(mirror.event_id) == col(_EMAIL.event_id))
        .where(
            col(_EMAIL.id).in_(bindparam("ids", expanding=True)),
            col(_EMAIL.lease_owner).is_(None),
            col(mirror.channel).in_(bindparam("channels", expanding=True)),
            col(mirror.edit_of).is_(None),
            col(mirror.is_digest) == false(),
            col(mirror.status).in_([str(s) for s in EDITABLE]),
        )
        .order_by(col(mirror.id))
    )


def queue_edits(connection: Connection, outcomes: list[Outcome], *, box: Any) -> int:
    """Queue an edit of each posted (or to be posted) mirror of the events of `outcomes`
    (emails whose `note` says what became of them), in the caller's transaction. Returns how
    many were queued."""
    notes = {outcome.id: outcome.note for outcome in outcomes if outcome.note is not None}
    if not notes:
        return 0
    found = connection.execute(
        _mirrors_of_emails(), {"ids": list(notes), "channels": list(editing_channels())}
    ).all()
    if not found:
        return 0
    messages = read_contents(connection, {row[1] for row in found})
    now = utcnow()
    values, contents = [], []
    for email_id, mirror_id, event_id, tenant_id, event, channel, target in found:
        note, original = notes[email_id], messages.get(mirror_id)
        if note is None or not original:
            continue
        content = _edited(channel, box, original, note, mirror_id)
        if content is None:
            continue
        row = _edit_row(channel, target, mirror_id)
        values.append(
            delivery_values(row, event=event, event_id=event_id, tenant_id=tenant_id, now=now)
        )
        contents.append(content)
    if not values:
        return 0
    ids = insert_returning_ids(connection, DELIVERY, values)
    insert_contents(connection, list(zip(ids, contents, strict=True)))
    return len(ids)


def _edited(
    channel: str, box: Any, original: bytes, note: StatusNote, mirror_id: int
) -> bytes | None:
    """The new version of a mirror's message; None when its stored message cannot be read (an
    edit is news about an alert: it must never stop the outcomes it rides with)."""
    try:
        return renderer(channel).edited(box, original, note)
    except Exception:
        log.exception("delivery %s: its message could not be edited", mirror_id)
        return None


def _edit_row(channel: str, target: str, edit_of: int) -> DeliveryRow:
    return DeliveryRow(
        channel,
        target,
        status=DeliveryStatus.QUEUED,
        pending=[target],
        edit_of=edit_of,
        digestible=False,
    )


def attach_edits(
    session: Session, box: Any, rows: Iterable[DeliveryRow], event_id: int, note: StatusNote
) -> int:
    """Turn the rows of an event about to be written into edits of event `event_id`'s mirrors
    in the same channels: each such row carries that mirror's message with `note` instead of
    its own (a health recovery edits its alert). Rows with no mirror to edit stay posts.
    Returns how many became edits."""
    connection = session.connection()
    mirrors = connection.execute(
        select(DELIVERY.c.id, DELIVERY.c.channel, DELIVERY.c.target).where(
            col(Delivery.event_id) == event_id,
            col(Delivery.channel).in_(editing_channels()),
            col(Delivery.edit_of).is_(None),
            col(Delivery.is_digest) == false(),
            col(Delivery.status).in_([str(s) for s in EDITABLE]),
        )
    ).all()
    by_target: dict[tuple[str, str], int] = {(c, t): i for i, c, t in mirrors}
    if not by_target:
        return 0
    messages = read_contents(connection, by_target.values())
    made = 0
    for row in rows:
        mirror_id = by_target.get((str(row.channel), row.target))
        original = messages.get(mirror_id) if mirror_id is not None else None
        if mirror_id is None or not original or row.status != DeliveryStatus.QUEUED:
            continue
        content = _edited(row.channel, box, original, note, mirror_id)
        if content is None:  # posted as a new message instead
            continue
        row.edit_of = mirror_id
        row.content = content
        row.digestible = False
        made += 1
    return made


# -- sending edits -------------------------------------------------------------------------------


def posted_ref(reply: str | None) -> str | None:
    """The message reference a sent delivery's reply records (`ok ts=…`), or None."""
    if not reply or not reply.startswith(REF_PREFIX):
        return None
    ref = reply[len(REF_PREFIX) :].split(" ", 1)[0]
    return ref or None


_ORIGINALS = select(
    col(Delivery.id), col(Delivery.status), col(Delivery.reply), col(Delivery.next_attempt_at)
).where(col(Delivery.id).in_(bindparam("ids", expanding=True)))


def resolve_edits(
    engine: Engine,
    claimed: Sequence[ClaimedDelivery],
    defer: Callable[[ClaimedDelivery, float], Outcome],
) -> tuple[list[ClaimedDelivery], list[Outcome]]:
    """Set `edit_ref` on the claimed edits whose message is posted; put back (`defer`, not an
    attempt) those whose message is still on its way. Returns the deliveries to send now and
    the outcomes of those put back. Without an edit among `claimed`: no query."""
    edits = [d for d in claimed if d.edit_of is not None]
    if not edits:
        return list(claimed), []
    with engine.connect() as connection:
        rows = connection.execute(_ORIGINALS, {"ids": [d.edit_of for d in edits]}).all()
    originals = {row[0]: row for row in rows}
    now = utcnow()
    waiting: dict[int, Outcome] = {}
    for delivery in edits:
        original = originals.get(delivery.edit_of)
        if original is None:  # gone: nothing to edit, post it
            continue
        status, reply, due = original[1], original[2], original[3]
        if status == DeliveryStatus.SENT:
            delivery.edit_ref = posted_ref(reply)
        elif status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING):
            wait = (due - now).total_seconds() if status == DeliveryStatus.QUEUED else 0.0
            wait = min(max(wait + WAIT_MIN_S, WAIT_MIN_S), WAIT_MAX_S)
            waiting[delivery.id] = defer(delivery, wait)
        # otherwise the message never got posted (failed for good, held): post this one
    ready = [d for d in claimed if d.id not in waiting]
    return ready, list(waiting.values())


__all__ = [
    "EDITABLE",
    "attach_edits",
    "editing_channels",
    "note_for",
    "posted_ref",
    "queue_edits",
    "resolve_edits",
]
