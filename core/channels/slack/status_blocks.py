"""The status line an edit adds to a posted alert (chat.update): what became of the alert's
email, or of its health subject, since it was posted.

    ✓ delivered by email at 10:42 UTC after 2 attempts
    ⚠ email delivered in part at 10:42 UTC after 3 attempts: 1 of 2 recipient(s) refused: …
    ✗ email failed after 5 attempts: [connect] Connection refused
    ✓ recovered at 11:05 UTC
    ? no longer critical at 11:05 UTC (now unknown)

The time is a Slack date token, so each reader sees it in their own time zone; the fallback
text (notifications, old clients) reads UTC. The alert's own blocks stay as they were and the
line comes last, as a context block; a recovered alert loses its "Check now" / "Mute 24 h"
buttons, since nothing is left to check or mute. An edit is always made from the alert as first
posted, so a second edit replaces the line instead of adding one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.channels.base import StatusNote
from core.channels.slack.blocks import FALLBACK_MAX, MAX_BLOCKS, escape, truncate
from core.vocabulary import HEALTH_GLYPHS, HealthState

STATUS_BLOCK_ID = "mailbell_status"
REASON_MAX = 200
# "gave up after 5 attempts: …" repeats what the line says already.
_GAVE_UP = "gave up after "


def _clock(at: datetime) -> tuple[str, str]:
    """(mrkdwn, plain) of a time of day: a date token shown in the reader's zone, UTC plain."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    plain = at.astimezone(UTC).strftime("%H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{time}}|{plain}>", plain


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def short_reason(reason: str | None) -> str:
    """The first line of a delivery's last error, without what the line says already, cut to
    REASON_MAX characters (errors never carry secrets: core.errors)."""
    lines = (reason or "").strip().splitlines()
    text = lines[0] if lines else ""
    if text.startswith(_GAVE_UP) and ": " in text:
        text = text.split(": ", 1)[1]
    return truncate(text, REASON_MAX)


def status_line(note: StatusNote) -> tuple[str, str]:
    """(mrkdwn, plain) of the line `note` makes."""
    rich_at, plain_at = _clock(note.at)
    reason = short_reason(note.reason)
    if note.kind == "recovered":
        if note.state in (None, HealthState.OK):
            return f"✓ recovered at {rich_at}", f"✓ recovered at {plain_at}"
        glyph = HEALTH_GLYPHS.get(HealthState(note.state), "?")
        head = f"{glyph} no longer {note.previous or 'failing'} at "
        tail = f" (now {note.state})"
        return head + rich_at + tail, head + plain_at + tail
    tried = _attempts(note.attempts)
    if note.kind == "delivered":
        return (
            f"✓ delivered by email at {rich_at} after {tried}",
            f"✓ delivered by email at {plain_at} after {tried}",
        )
    because = f": {reason}" if reason else ""
    if note.kind == "partial":
        head, tail = "⚠ email delivered in part at ", f" after {tried}{because}"
        return head + rich_at + escape(tail), head + plain_at + tail
    line = f"✗ email failed after {tried}{because}"
    return escape(line), line


def with_status(message: Mapping[str, Any], note: StatusNote) -> dict[str, Any]:
    """`message` (`{"text", "blocks"}` as posted) with the status line of `note` last."""
    rich, plain = status_line(note)
    blocks = [
        block
        for block in message.get("blocks") or []
        if block.get("block_id") != STATUS_BLOCK_ID
        and not (note.kind == "recovered" and block.get("type") == "actions")
    ]
    line = {
        "type": "context",
        "block_id": STATUS_BLOCK_ID,
        "elements": [{"type": "mrkdwn", "text": truncate(rich, 3000)}],
    }
    text = str(message.get("text") or "")
    room = FALLBACK_MAX - len(plain) - 1
    return {
        "text": f"{truncate(text, room)}\n{escape(plain)}" if text else escape(plain),
        "blocks": [*blocks[: MAX_BLOCKS - 1], line],
    }
