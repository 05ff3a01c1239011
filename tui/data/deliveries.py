"""The delivery log: pages of it, one delivery in full (its message with secrets masked), retry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context

MASK = "••••••"


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    limit: int


def load_page(
    ctx: Context,
    slug: str | None,
    status: str | None,
    event: str | None,
    limit: int,
    before_id: int | None = None,
) -> Page:
    """The `limit` newest deliveries, or with `before_id` the `limit` next older ones."""
    from core.services.deliveries import delivery_log

    with ctx.session() as session:
        page = delivery_log(
            session=session,
            tenant=owner(session, slug),
            status=status,
            event=event,
            before_id=before_id,
            limit=limit,
        )
    return Page([row.as_json() for row in page], limit)


def retry(ctx: Context, slug: str | None, delivery_id: int) -> int:
    from core.services.deliveries import retry_delivery

    with ctx.session() as session:
        retry_delivery(
            session=session,
            box=ctx.box,
            delivery_id=delivery_id,
            actor=actor(),
            tenant=owner(session, slug),
        )
    return delivery_id


def _secrets(ctx: Context, session: Any, event_id: int) -> list[str]:
    """Secret payload values (a new user's password) to mask in the shown message."""
    from core.models.delivery import EventRecord
    from core.pipeline.emit import SECRET_PAYLOAD_FIELDS

    record = session.get(EventRecord, event_id)
    if record is None or record.payload_enc is None:
        return []
    payload = json.loads(ctx.box.decrypt_bytes(record.payload_enc))
    values = [str(payload[name]) for name in SECRET_PAYLOAD_FIELDS if payload.get(name)]
    return [*values, *(quote_plus(v) for v in values)]


def message_text(raw: bytes, secrets: list[str]) -> str:
    message = message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    lines = [
        f"{name}: {message[name]}"
        for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
        if message[name]
    ]
    body = message.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else "(no text part)"
    attachments = [
        part.get_filename() or part.get_content_type() for part in message.iter_attachments()
    ]
    text = "\n".join(lines) + "\n\n" + content.strip()
    if attachments:
        text += "\n\nAttached: " + ", ".join(attachments)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def load_delivery(ctx: Context, slug: str | None, delivery_id: int) -> dict[str, Any]:
    """One delivery as `read_delivery` gives it, plus `message`: the rendered text or None."""
    from core.pipeline.contents import message_of
    from core.services.deliveries import get_delivery, read_delivery

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = read_delivery(session=session, delivery_id=delivery_id, tenant=tenant).as_json()
        details["message"] = None
        if content := message_of(session, delivery_id):
            event_id = get_delivery(session=session, delivery_id=delivery_id).event_id
            secrets = _secrets(ctx, session, event_id)
            details["message"] = message_text(ctx.box.decrypt_bytes(content), secrets)
    return details
