"""The Slack message of a mirrored notification: Block Kit plus a plain-text fallback.

Pure functions of the event, its (redacted) payload and the delivery: the message is built when
the event is emitted and stored with the delivery, like a rendered email. Everything is kept
inside Slack's limits (header 150 characters, section text 3,000, a field 2,000, ten fields a
section, 50 blocks) and user-supplied text is escaped, so a payload cannot mention `@channel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.catalog import Event

HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
FALLBACK_MAX = 3000
LONG_VALUE = 200  # longer values get a section of their own instead of a field
HIDDEN_FIELDS = frozenset({"password", "pin"})
REDACTED = "(redacted)"

TITLES: dict[str, str] = {
    "USER_CREATION": "New user {display_name} ({extension_number})",
    "QUEUE_SLA": "Queue SLA breached: {queue_name}",
    "QUEUE_CALLBACK": "Queue callback: {queue_name}",
    "QUEUE_CALLBACK_FAILED": "Queue callback failed: {queue_name}",
    "QUEUE_CALL_LOST": "Call lost in queue {queue_name}",
    "VOICEMAIL_RECEIVED": "Voicemail for {mailbox} from {caller}",
    "CALL_REPORT_COMPLETED": "Call report ready: {report_name}",
    "CONFERENCE_INVITATION": "Conference invitation: {title}",
    "DISK_LOW": "Disk low on {host}: {free_percent}% free",
    "LICENSE_LIMITED": "License limit reached: {limit_name}",
    "RECHARGE": "Recharge needed: {account}",
    "EMERGENCY_CALL": "Emergency call from {caller} to {dialed_number}",
    "TRUNK_CONNECTED": "Trunk connected: {trunk_name}",
    "TRUNK_DISCONNECTED": "Trunk disconnected: {trunk_name}",
}
ICONS: dict[str, str] = {
    "EMERGENCY_CALL": ":rotating_light:",
    "TRUNK_DISCONNECTED": ":red_circle:",
    "TRUNK_CONNECTED": ":large_green_circle:",
    "DISK_LOW": ":warning:",
    "LICENSE_LIMITED": ":warning:",
    "QUEUE_CALL_LOST": ":telephone_receiver:",
}


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: `&`, `<` and `>` only (no mentions, links or channel pings)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _label(key: str) -> str:
    if key.endswith("_seconds"):
        key = key.removesuffix("_seconds")
    return key.replace("_", " ").capitalize()


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _parse_time(value: str) -> datetime | None:
    if len(value) < 19 or value[4] != "-" or value[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(at: datetime) -> str:
    """A Slack date token (shown in each reader's time zone) with a UTC fallback."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _plain_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _value(key: str, value: Any) -> tuple[str, str]:
    """(mrkdwn, plain) renderings of one payload value."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
        return text, text
    if isinstance(value, int) and key.endswith("_seconds"):
        text = _duration(value)
        return text, text
    text = str(value)
    parsed = _parse_time(text) if isinstance(value, str) else None
    if parsed is not None:
        return format_time(parsed), _plain_time(parsed)
    return escape(text), text


def title(event: Event, payload: Mapping[str, Any]) -> str:
    template = TITLES.get(event.name)
    try:
        text = template.format_map(payload) if template else event.description
    except (KeyError, ValueError, IndexError):
        text = event.description
    text = text[:1].upper() + text[1:]
    return truncate(text.replace("\n", " "), HEADER_MAX - 4)


def alert_message(
    *,
    event: Event,
    payload: Mapping[str, Any],
    tenant: str | None,
    delivery_id: int | None,
    at: datetime,
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage (add `channel`)."""
    heading = title(event, payload)
    icon = ICONS.get(event.name)
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
    fields: list[dict[str, str]] = []
    long_sections: list[dict[str, Any]] = []
    plain: list[str] = []
    for key, raw in payload.items():
        if raw is None or raw == "" or key in HIDDEN_FIELDS or raw == REDACTED:
            continue
        rich, text = _value(key, raw)
        plain.append(f"{_label(key)}: {text}")
        if len(rich) > LONG_VALUE:
            body = f"*{_label(key)}*\n{rich}"
            long_sections.append(_section(truncate(body, SECTION_TEXT_MAX)))
        else:
            fields.append(
                {"type": "mrkdwn", "text": truncate(f"*{_label(key)}*\n{rich}", FIELD_TEXT_MAX)}
            )
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    blocks.extend(long_sections)
    context = [f"Tenant *{escape(tenant)}*" if tenant else "System", format_time(at)]
    if delivery_id is not None:
        context.append(f"delivery {delivery_id}")
    footer = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(" · ".join(context), 3000)}],
    }
    blocks = [*blocks[: MAX_BLOCKS - 1], footer]
    where = f"[{tenant}]" if tenant else "[system]"
    fallback = " — ".join([f"{where} {heading}", "; ".join(plain)]) if plain else heading
    return {"text": truncate(fallback, FALLBACK_MAX), "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
