"""The Slack message of a mirrored inbound email: Block Kit plus a plain-text fallback.

A pure function of the stored message (core.models.inbound: headers, a text snippet of at most
a few hundred characters, attachment names) and the delivery, built when the message is stored,
like an alert (core.channels.slack.blocks). Everything from the email is escaped, so a subject
cannot mention `@channel` or forge a link, and everything is cut to Slack's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.channels.slack.blocks import (
    FALLBACK_MAX,
    FIELD_TEXT_MAX,
    HEADER_MAX,
    SECTION_TEXT_MAX,
    escape,
    format_time,
    truncate,
)

ICON = ":incoming_envelope:"
NO_SUBJECT = "(no subject)"
ATTACHMENTS_SHOWN = 10


def escaped_within(text: str, limit: int, *, quote: bool = False) -> str:
    """`text` escaped for mrkdwn and cut to `limit` characters without splitting an entity;
    with `quote`, every line is a block quote."""
    pieces = [">"] if quote else []
    for char in text:
        pieces.append("\n>" if quote and char == "\n" else escape(char))
    out = "".join(pieces)
    if len(out) <= limit:
        return out
    used = 0
    kept: list[str] = []
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + "…"


def _field(label: str, value: str) -> dict[str, str]:
    head = f"*{label}*\n"
    return {"type": "mrkdwn", "text": head + escaped_within(value, FIELD_TEXT_MAX - len(head))}


def inbox_message(
    *,
    account: str,
    sender: str | None,
    subject: str | None,
    date: datetime | None,
    snippet: str,
    attachments: Sequence[str],
    tenant: str,
    delivery_id: int | None,
    at: datetime,
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage (add `channel`).

    Blocks: a header (the subject), fields From / Subject / Account / Date, the text snippet as
    a quote, attachment names, and a context line (tenant, account, time, delivery id).
    """
    subject_text = " ".join((subject or "").split()) or NO_SUBJECT
    sender_text = sender or "(unknown sender)"
    fields = [
        _field("From", sender_text),
        _field("Subject", subject_text),
        _field("Account", account),
    ]
    if date is not None:
        fields.append({"type": "mrkdwn", "text": f"*Date*\n{format_time(date)}"})
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{ICON} {subject_text}", HEADER_MAX),
                "emoji": True,
            },
        },
        {"type": "section", "fields": fields},
    ]
    body = snippet.strip()
    if body:
        text = escaped_within(body, SECTION_TEXT_MAX, quote=True)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if attachments:
        names = ", ".join(attachments[:ATTACHMENTS_SHOWN])
        more = len(attachments) - ATTACHMENTS_SHOWN
        line = names + (f" and {more} more" if more > 0 else "")
        text = ":paperclip: " + escaped_within(line, 2900)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    context = [
        f"Tenant *{escape(tenant)}*",
        f"inbox {escaped_within(account, 400)}",
        format_time(at),
    ]
    if delivery_id is not None:
        context.append(f"delivery {delivery_id}")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    fallback = f"[{tenant}] New mail for {account} from {sender_text}: {subject_text}"
    if body:
        fallback += " — " + " ".join(body.split())
    return {"text": escaped_within(fallback, FALLBACK_MAX), "blocks": blocks}
