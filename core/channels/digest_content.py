"""What a digest says, whatever channel carries it: each held event in one line, what the events
are ("lost calls"), what they share ("in queue Sales") and the headline
"12 more lost calls in queue Sales", built into the DIGEST template's payload.

Pure functions of the events' shown payloads (JSON values, secrets redacted): the email digest
(core/channels/email/digest.py) and the Slack one (core/channels/slack/digest_blocks.py) say the
same. Times and durations in the items' fields read in the locality the payload is built in
(core/locality.py: the email digest builds it in the owner's zone and locale; elsewhere UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from core.catalog import EVENTS
from core.catalog_payloads import DigestItem, DigestPayload
from core.channels.base import DigestDraft, HeldItem
from core.channels.slack.blocks import HIDDEN_FIELDS, REDACTED, title
from core.locality import format_datetime, format_duration

SUMMARY_MAX = 300
# A shown value longer than this is cut in `fields` (the item's summary has the gist).
FIELD_MAX = 500
LINK_FIELDS = ("listen_url", "report_url", "join_url", "recharge_url", "portal_url")

# (one, several) of each digest event, as the count reads: "1 more lost call".
NOUNS: dict[str, tuple[str, str]] = {
    "USER_CREATION": ("new user", "new users"),
    "QUEUE_SLA": ("SLA breach", "SLA breaches"),
    "QUEUE_CALLBACK": ("callback made", "callbacks made"),
    "QUEUE_CALLBACK_FAILED": ("failed callback", "failed callbacks"),
    "QUEUE_CALL_LOST": ("lost call", "lost calls"),
    "DISK_LOW": ("low disk alert", "low disk alerts"),
    "LICENSE_LIMITED": ("license limit alert", "license limit alerts"),
    "RECHARGE": ("low balance alert", "low balance alerts"),
    "EMERGENCY_CALL": ("emergency call", "emergency calls"),
    "TRUNK_CONNECTED": ("trunk reconnection", "trunk reconnections"),
    "TRUNK_DISCONNECTED": ("trunk disconnection", "trunk disconnections"),
}
# The field the events of a burst usually share, and how the headline names it.
PLACES: dict[str, tuple[str, str]] = {
    "USER_CREATION": ("pbx_domain", "on {}"),
    "QUEUE_SLA": ("queue_name", "in queue {}"),
    "QUEUE_CALLBACK": ("queue_name", "in queue {}"),
    "QUEUE_CALLBACK_FAILED": ("queue_name", "in queue {}"),
    "QUEUE_CALL_LOST": ("queue_name", "in queue {}"),
    "DISK_LOW": ("host", "on {}"),
    "LICENSE_LIMITED": ("product", "for {}"),
    "RECHARGE": ("account", "for {}"),
    "EMERGENCY_CALL": ("tenant_name", "in {}"),
    "TRUNK_CONNECTED": ("trunk_name", "of trunk {}"),
    "TRUNK_DISCONNECTED": ("trunk_name", "of trunk {}"),
}
QUEUE_EVENTS = frozenset(
    {"QUEUE_SLA", "QUEUE_CALLBACK", "QUEUE_CALLBACK_FAILED", "QUEUE_CALL_LOST"}
)
EN_DASH = "\u2013"  # between a window's times: 10:05-10:15 with the typographic dash


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return "" if value is None or value == REDACTED else " ".join(str(value).split())


def _who(payload: Mapping[str, Any]) -> str:
    """`Jean Dupont (+33 1 84 88 00 00)`, or the number alone."""
    caller, name = _text(payload, "caller"), _text(payload, "caller_name")
    return f"{name} ({caller})" if name and caller else caller or name


def _seconds(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return format_duration(value) if isinstance(value, int) else ""


def _user(p: Mapping[str, Any]) -> str:
    line = f"{_text(p, 'display_name')} ({_text(p, 'extension_number')})"
    return f"{line}, {_text(p, 'email')}" if _text(p, "email") else line


def _sla(p: Mapping[str, Any]) -> str:
    line = f"{_who(p)} waited {_seconds(p, 'waiting_seconds')} (SLA {_seconds(p, 'sla_seconds')})"
    calls = p.get("waiting_calls")
    return f"{line}, {calls} waiting" if isinstance(calls, int) else line


def _callback(p: Mapping[str, Any]) -> str:
    line = f"{_who(p)} called back by {_text(p, 'agent')}"
    talk = _seconds(p, "talk_seconds")
    return f"{line}, talked {talk}" if talk else line


def _callback_failed(p: Mapping[str, Any]) -> str:
    attempts = p.get("attempts")
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if attempts else ""
    return f"{_who(p)}: {_text(p, 'reason')}{tries}"


def _call_lost(p: Mapping[str, Any]) -> str:
    return f"{_who(p)} waited {_seconds(p, 'waiting_seconds')}: {_text(p, 'reason')}"


def _disk_low(p: Mapping[str, Any]) -> str:
    return (
        f"{_text(p, 'host')} {_text(p, 'path')}: {_text(p, 'free_gb')} GB free "
        f"({_text(p, 'free_percent')}%, alert under {_text(p, 'threshold_percent')}%)"
    )


def _license(p: Mapping[str, Any]) -> str:
    return f"{_text(p, 'limit_name')}: {_text(p, 'in_use')}/{_text(p, 'limit')} in use"


def _recharge(p: Mapping[str, Any]) -> str:
    currency = _text(p, "currency")
    return (
        f"{_text(p, 'account')}: balance {_text(p, 'balance')} {currency} "
        f"(alert under {_text(p, 'threshold')} {currency})"
    )


def _emergency(p: Mapping[str, Any]) -> str:
    line = f"{_who(p)} dialed {_text(p, 'dialed_number')}"
    location = _text(p, "location")
    return f"{line} from {location}" if location else line


def _trunk_up(p: Mapping[str, Any]) -> str:
    line = f"{_text(p, 'trunk_name')} ({_text(p, 'host')}) connected"
    down = _seconds(p, "downtime_seconds")
    return f"{line} after {down} down" if down else line


def _trunk_down(p: Mapping[str, Any]) -> str:
    line = f"{_text(p, 'trunk_name')} ({_text(p, 'host')}) disconnected"
    reason = _text(p, "reason")
    return f"{line}: {reason}" if reason else line


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "USER_CREATION": _user,
    "QUEUE_SLA": _sla,
    "QUEUE_CALLBACK": _callback,
    "QUEUE_CALLBACK_FAILED": _callback_failed,
    "QUEUE_CALL_LOST": _call_lost,
    "DISK_LOW": _disk_low,
    "LICENSE_LIMITED": _license,
    "RECHARGE": _recharge,
    "EMERGENCY_CALL": _emergency,
    "TRUNK_CONNECTED": _trunk_up,
    "TRUNK_DISCONNECTED": _trunk_down,
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(event: str, payload: Mapping[str, Any], *, with_queue: bool = True) -> str:
    """One line for one event: "+49 30 901820 waited 3 min 04 s: caller hung up". A queue
    event names its queue unless `with_queue` is False (the digest names the queue they share).
    An event with no line of its own has its Slack alert's title."""
    make = SUMMARIES.get(event)
    try:
        line = make(payload) if make else ""
    except (TypeError, ValueError):  # a payload that is not the event's (hand-made data)
        line = ""
    if not line.strip(" :()/,") and event in EVENTS:
        line = title(EVENTS[event], payload)
    queue = _text(payload, "queue_name")
    if with_queue and event in QUEUE_EVENTS and queue:
        line = f"{line} (queue {queue})"
    return _cut(line or event, SUMMARY_MAX)


def what(event: str, count: int) -> str:
    """ "lost call" / "lost calls"; an event with no noun of its own: "QUEUE_X events"."""
    one, several = NOUNS.get(event, (f"{event} event", f"{event} events"))
    return one if count == 1 else several


def shared_place(event: str, payloads: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    """(the shared value, "in queue Sales") when every event names the same one, else
    (None, "")."""
    key, phrase = PLACES.get(event, ("", ""))
    values = {_text(payload, key) for payload in payloads} if key else set()
    if len(values) != 1 or "" in values:
        return None, ""
    (value,) = values
    return value, phrase.format(_cut(value, 200))


def headline(event: str, count: int, where: str) -> str:
    """ "12 more lost calls in queue Sales"."""
    line = f"{count} more {what(event, count)}"
    return f"{line} {where}" if where else line


def fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """The event's values by label ("Caller": "+49 30 901820"), secrets and empties left out."""
    shown: dict[str, str] = {}
    for key, value in payload.items():
        if value is None or value == "" or value == REDACTED or key in HIDDEN_FIELDS:
            continue
        if isinstance(value, dict | list):  # an attached file's description: not a value
            continue
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_seconds"):
            text = format_duration(value)
            key = key.removesuffix("_seconds")
        else:
            text = _shown_time(value) or " ".join(str(value).split())
        shown[key.replace("_", " ").capitalize()] = _cut(text, FIELD_MAX)
    return shown


def _shown_time(value: Any) -> str:
    """An ISO timestamp of the payload as the owner reads it ("Nov 3, 2026, 10:05 AM UTC");
    anything else: ""."""
    if not isinstance(value, str) or len(value) < 19 or value[10:11] != "T":
        return ""
    try:
        return format_datetime(datetime.fromisoformat(value))
    except ValueError:
        return ""


def link(payload: Mapping[str, Any]) -> str | None:
    for key in LINK_FIELDS:
        value = payload.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def digest_payload(
    *,
    event: str,
    items: Sequence[HeldItem],
    total: int,
    window_start: datetime,
    window_end: datetime,
    tenant: str | None,
) -> DigestPayload:
    """The DIGEST template's variables for `items` (the listed held events) of `total`."""
    payloads = [item.payload for item in items]
    place, where = shared_place(event, payloads)
    total = max(total, len(items), 1)
    spec = EVENTS.get(event)
    return DigestPayload(
        event=event,
        event_description=spec.description if spec else event,
        count=total,
        what=what(event, total),
        where=where or None,
        queue_name=place if event in QUEUE_EVENTS else None,
        headline=headline(event, total, where),
        items=tuple(
            DigestItem(
                at=_utc(item.at),
                summary=summary(event, item.payload, with_queue=place is None),
                fields=fields(item.payload),
                link=link(item.payload),
            )
            for item in items
        ),
        omitted=total - len(items),
        window_start=_utc(window_start),
        window_end=_utc(window_end),
        tenant=_cut(tenant, 200) if tenant else None,
    )


def draft_payload(draft: DigestDraft) -> DigestPayload:
    tenant = getattr(draft.tenant, "name", None) if draft.tenant is not None else None
    return digest_payload(
        event=draft.event,
        items=draft.items,
        total=draft.total,
        window_start=draft.window_start,
        window_end=draft.window_end,
        tenant=tenant,
    )


def window_text(start: datetime, end: datetime) -> str:
    """The window's times, HH:MM (UTC), joined by an en dash."""
    return f"{_utc(start):%H:%M}{EN_DASH}{_utc(end):%H:%M}"
