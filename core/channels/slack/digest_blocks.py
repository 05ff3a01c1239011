"""The Slack message of a closed digest: one message, posted in the burst's thread.

A header with the count and the window ("47 more lost calls in queue Sales (10:05-10:15)",
the times joined by an en dash), the first `ITEMS_SHOWN` held events one line each,
"…and N more" for the rest, and a context line (owner, digest delivery id). Within Slack's
limits like the alerts (core/channels/slack/blocks.py), with every payload value escaped; the
fallback text says the headline and the window.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.catalog_payloads import DigestPayload
from core.channels.base import DigestMessage
from core.channels.digest_content import draft_payload, window_text
from core.channels.slack.blocks import (
    FALLBACK_MAX,
    HEADER_MAX,
    ICONS,
    SECTION_TEXT_MAX,
    escape,
    truncate,
)

if TYPE_CHECKING:
    from core.channels.base import DigestDraft

ITEMS_SHOWN = 10
# One item's line in the list (ten of them stay well inside a section's 3,000 characters).
LINE_MAX = 260


def _escaped(text: str, limit: int) -> str:
    """`text` escaped and cut so that the escaped form fits `limit` (an entity is never cut)."""
    cut = truncate(text, limit)
    while len(escape(cut)) > limit:
        cut = truncate(cut, max(2, len(cut) - (len(escape(cut)) - limit)))
    return escape(cut)


def _line(at: datetime, summary: str) -> str:
    when = at.astimezone(UTC).strftime("%H:%M:%S")
    return f"• `{when}` {_escaped(summary, LINE_MAX)}"


def digest_message(
    *, payload: DigestPayload, tenant: str | None, delivery_id: int | None
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage (add `channel`, and
    `thread_ts`: the pipeline threads it under the burst's first alert)."""
    window = window_text(payload.window_start, payload.window_end)
    heading = f"{payload.headline} ({window})"
    icon = ICONS.get(payload.event)
    shown = payload.items[:ITEMS_SHOWN]
    lines = [_line(item.at, item.summary) for item in shown]
    rest = payload.count - len(shown)
    if rest > 0:
        lines.append(f"…and {rest} more")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{icon} {heading}" if icon else heading, HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    if lines:
        text = "\n".join(lines)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX)},
            }
        )
    owner = f"Tenant *{escape(tenant)}*" if tenant else "System"
    context = [owner, f"digest of {payload.count} held", f"window {window} UTC"]
    if delivery_id is not None:
        context.append(f"delivery {delivery_id}")
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": truncate(" · ".join(context), 3000)}],
        }
    )
    where = f"[{escape(tenant)}]" if tenant else "[system]"
    # The fallback is mrkdwn too (notifications show it): escaped like the sections.
    fallback = f"{where} {escape(heading)}"
    return {"text": truncate(fallback, FALLBACK_MAX), "blocks": blocks}


def slack_digest(draft: DigestDraft) -> DigestMessage:
    """The message of a closed digest (SlackRenderer.digest)."""
    message = digest_message(
        payload=draft_payload(draft),
        tenant=getattr(draft.tenant, "slug", None),
        delivery_id=draft.delivery_id,
    )
    return DigestMessage(bytes(draft.box.encrypt_bytes(json.dumps(message).encode())))
