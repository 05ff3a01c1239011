"""The Slack message of a mirrored notification: Block Kit plus a plain-text fallback.

Pure functions of the event, its (redacted) payload and the delivery: the message is built when
the event is emitted and stored with the delivery, like a rendered email. Everything is kept
inside Slack's limits (header 150 characters, section text 3,000, a field 2,000, ten fields a
section, 50 blocks) and user-supplied text is escaped, so a payload cannot mention `@channel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.attachments.model import file_size_text
from core.catalog import Event
from core.vocabulary import HEALTH_GLYPHS, EventName, HealthState

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
# The health watch's notices (core/health/alerts.py) have a message of their own: the state,
# what is wrong, what to do, and two buttons whose value is the subject's key.
HEALTH_EVENTS = frozenset({EventName.MAIL_HEALTH, EventName.SYSTEM_MAIL_HEALTH})
HEALTH_CHECK_NOW = "health_check_now"
HEALTH_MUTE = "health_mute"
HEALTH_ICONS: dict[str, str] = {
    HealthState.CRITICAL: ":red_circle:",
    HealthState.WARNING: ":warning:",
    HealthState.OK: ":large_green_circle:",
    HealthState.UNKNOWN: ":grey_question:",
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
    files: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for chat.postMessage (add `channel`). `files`:
    the attachments of the event's mail (`Attachment.shown()`), named on a line of their own."""
    if event.name in HEALTH_EVENTS:
        return health_message(payload=payload, tenant=tenant, delivery_id=delivery_id, at=at)
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
        if isinstance(raw, dict):  # a file (recording, report_file): named in `files`
            continue
        rich, text = _value(key, raw)
        plain.append(f"{_label(key)}: {escape(text)}")
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
    if files:
        blocks.append(files_line(files))
    blocks = [*blocks[: MAX_BLOCKS - 1], _footer(tenant, delivery_id, at)]
    where = f"[{escape(tenant)}]" if tenant else "[system]"
    # The fallback is mrkdwn too (notifications show it): escaped like the sections.
    heading = escape(heading)
    fallback = " — ".join([f"{where} {heading}", "; ".join(plain)]) if plain else heading
    return {"text": truncate(fallback, FALLBACK_MAX), "blocks": blocks}


def files_line(files: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A context line naming each file: `📎 voicemail-1012.wav (audio/wav, 34 KB)`."""
    elements = [
        {
            "type": "mrkdwn",
            "text": truncate(
                f"📎 {escape(str(file['filename']))} "
                f"({escape(str(file['content_type']))}, {file_size_text(int(file['size']))})",
                FIELD_TEXT_MAX,
            ),
        }
        for file in files[:10]  # a context block holds at most 10 elements
    ]
    return {"type": "context", "elements": elements}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _footer(tenant: str | None, delivery_id: int | None, at: datetime) -> dict[str, Any]:
    context = [f"Tenant *{escape(tenant)}*" if tenant else "System", format_time(at)]
    if delivery_id is not None:
        context.append(f"delivery {delivery_id}")
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(" · ".join(context), 3000)}],
    }


def _state(value: Any) -> str:
    """`✗ critical`: the glyph carries the state without colour."""
    state = str(value)
    glyph = HEALTH_GLYPHS[HealthState(state)] if state in HEALTH_GLYPHS else "?"
    return f"{glyph} {state}"


def _health_heading(payload: Mapping[str, Any]) -> str:
    subject, state = str(payload.get("subject", "")), str(payload.get("state", ""))
    notice = payload.get("notice")
    if notice == "recovery" and state != HealthState.OK:  # cleared, but not judged since
        return f"No longer {payload.get('previous_state')}: {subject}"
    if notice == "recovery":
        return f"Recovered: {subject} is ok again"
    if notice == "reminder":
        return f"Still {state}: {subject}"
    return f"{state.capitalize()}: {subject}"


def _button(text: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value[:2000],
    }


def health_message(
    *, payload: Mapping[str, Any], tenant: str | None, delivery_id: int | None, at: datetime
) -> dict[str, Any]:
    """A health notice: the status line (glyph, state, what it was, since when), the reason,
    what to do, and the buttons "Check now" and "Mute 24 h" (not on a recovery: nothing to do)."""
    notice = payload.get("notice")
    heading = truncate(_health_heading(payload).replace("\n", " "), HEADER_MAX - 4)
    icon = HEALTH_ICONS.get(str(payload.get("state")), ":grey_question:")
    since = _parse_time(str(payload.get("since", "")))
    status = f"*{_state(payload.get('state'))}* (was {_state(payload.get('previous_state'))})"
    if since is not None:
        status += f" · since {format_time(since)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"{icon} {heading}", HEADER_MAX)},
        },
        _section(
            truncate(
                f"{status}\n{escape(str(payload.get('kind', '')).replace('_', ' '))}"
                f" · `{escape(str(payload.get('subject_key', '')))}`",
                SECTION_TEXT_MAX,
            )
        ),
    ]
    reason, action = payload.get("reason"), payload.get("action")
    if reason:
        label = "Details" if notice == "recovery" else "What is wrong"
        blocks.append(_section(truncate(f"*{label}*\n{escape(str(reason))}", SECTION_TEXT_MAX)))
    if action and notice != "recovery":
        blocks.append(_section(truncate(f"*What to do*\n{escape(str(action))}", SECTION_TEXT_MAX)))
    key = str(payload.get("subject_key", ""))
    if notice != "recovery" and key:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button("Check now", HEALTH_CHECK_NOW, key),
                    _button("Mute 24 h", HEALTH_MUTE, key),
                ],
            }
        )
    blocks.append(_footer(tenant, delivery_id, at))
    where = f"[{tenant}]" if tenant else "[system]"
    # The fallback is mrkdwn too (notifications show it): escaped like the sections.
    fallback = f"{where} {escape(heading)}"
    if reason and notice != "recovery":
        fallback += f" — {escape(str(reason))}"
    return {"text": truncate(fallback, FALLBACK_MAX), "blocks": blocks}
