"""The delivery log: pages of it, one delivery in full (its message with secrets masked), retry,
resend."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any

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
            tenant=owner(session, slug, write=True),
        )
    return delivery_id


def resend(ctx: Context, slug: str | None, delivery_id: int, to: str | None) -> int:
    """Queue a new copy of the delivery (to `to`, an email's other address); the copy's id."""
    from core.services.resend import resend_delivery

    with ctx.session() as session:
        copy = resend_delivery(
            session=session,
            box=ctx.box,
            delivery_id=delivery_id,
            actor=actor(),
            tenant=owner(session, slug, write=True),
            to=to,
        )
    return copy.id


def resend_address(typed: str) -> tuple[str | None, str | None]:
    """The address typed in the Resend dialog as the resend service takes it, or why not."""
    from core import validation as v
    from core.errors import ValidationError

    try:
        return v.email_address("to", typed), None
    except ValidationError as exc:
        return None, str(exc)


def mask(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def email_text(raw: bytes) -> str:
    """An email as text: its main headers, the plain (or HTML) body, attachment names."""
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
    return text


def message_text(channel: str, raw: bytes, secrets: list[str]) -> str:
    """What the channel sent, readable: an email's headers and body, a webhook's JSON
    indented, anything else as text; secret payload values masked."""
    from core.vocabulary import Channel

    if channel == Channel.EMAIL:
        text = email_text(raw)
    else:
        text = raw.decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return mask(text, secrets)


def load_delivery(ctx: Context, slug: str | None, delivery_id: int) -> dict[str, Any]:
    """One delivery as `read_delivery` gives it, plus `message`: the rendered text or None."""
    from core.services.deliveries import read_delivery, read_message

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = read_delivery(session=session, delivery_id=delivery_id, tenant=tenant).as_json()
        sent = read_message(session=session, box=ctx.box, delivery_id=delivery_id, tenant=tenant)
    details["message"] = None if sent is None else message_text(details["channel"], *sent)
    return details
