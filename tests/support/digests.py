"""Digest test helpers: set a policy through the real settings service, read deliveries by kind,
and a stand-in digest renderer for channels whose own one is not there.

- `set_policy(session, box, tenant, "3/4s", event=…)`: `digest.EVENT` through
  `update_notification_settings` (tenant None: the system's settings).
- `deliveries(session)`: every delivery, oldest first; `singles`, `held`, `digests` filter them.
- `record_digests(monkeypatch)`: the drafts email digests are rendered from, recorded; rendered
  by `PlainDigest` unless the email renderer has its own, so the pipeline is testable either way.
- `event_marks(message)`: the distinctive payload values (`caller` of QUEUE_CALL_LOST) a
  captured message carries, to check that each event appears exactly once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any

import pytest

from core.services.audit import Actor
from core.vocabulary import EventName

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.channels.base import DigestDraft, DigestMessage
    from core.crypto import SecretBox
    from core.models.delivery import Delivery
    from core.models.tenancy import Tenant

__all__ = [
    "MARK",
    "Rendered",
    "caller",
    "deliveries",
    "digests",
    "event_marks",
    "held",
    "lost_call",
    "record_digests",
    "set_policy",
    "singles",
]

TESTER = Actor(name="tester", source="cli")
EVENT = EventName.QUEUE_CALL_LOST
# Each test event's caller number is unique: `caller(i)` appears in the message of event i only.
MARK = re.compile(r"\+1555\d{7}")


def caller(number: int) -> str:
    return f"+1555{number:07d}"


def lost_call(number: int) -> dict[str, Any]:
    """A QUEUE_CALL_LOST payload whose caller identifies event `number`."""
    from core.catalog import sample

    data = dict(sample(EVENT))
    data["caller"] = caller(number)
    return data


def set_policy(
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    policy: str,
    *,
    event: str = EVENT,
    actor: Actor = TESTER,
) -> None:
    """Set (and commit) the owner's `digest.EVENT` policy."""
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    changes = NotificationSettingsUpdate.parse({f"digest.{event}": policy}, system=tenant is None)
    update_notification_settings(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    )


def deliveries(session: Session) -> list[Delivery]:
    from sqlmodel import col, select

    from core.models.delivery import Delivery

    session.expire_all()
    return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())


def singles(rows: list[Delivery]) -> list[Delivery]:
    return [row for row in rows if not row.is_digest and row.status != "held"]


def held(rows: list[Delivery]) -> list[Delivery]:
    return [row for row in rows if row.status == "held"]


def digests(rows: list[Delivery]) -> list[Delivery]:
    return [row for row in rows if row.is_digest]


def event_marks(data: bytes) -> list[str]:
    """The callers a captured message's text names, each once (a message may repeat one)."""
    message = message_from_bytes(data, policy=default_policy)
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    text = part.get_content() if part is not None else ""
    return sorted(set(MARK.findall(text)))


@dataclass(frozen=True)
class Rendered:
    """What a digest renderer was given (the draft's session is gone after the close)."""

    delivery_id: int
    event_ids: list[int]
    total: int
    window_start: datetime
    window_end: datetime


def record_digests(monkeypatch: pytest.MonkeyPatch) -> list[Rendered]:
    """Every digest the email renderer renders from now on, recorded (the list returned), then
    rendered as usual. For a test module's fixture."""
    from core.channels.email.render import EmailRenderer

    inner = EmailRenderer.digest
    rendered: list[Rendered] = []

    def digest(self: Any, draft: DigestDraft) -> DigestMessage:
        rendered.append(
            Rendered(
                draft.delivery_id,
                [item.event_id for item in draft.items],
                draft.total,
                draft.window_start,
                draft.window_end,
            )
        )
        return inner(self, draft)

    monkeypatch.setattr(EmailRenderer, "digest", digest)
    return rendered
