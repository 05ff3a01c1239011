"""The events (= template names): the single source for scope, toggle, audience and payload.

The 14 of the PortSIP API (`PORTSIP_NAMES`: what its template endpoints list), then mailbell's
own: MAIL_HEALTH and SYSTEM_MAIL_HEALTH, the health watch's notices (core/health/alerts.py).

One template is no event: DIGEST, the message a burst's held events go out in when its window
closes (core/pipeline/digests.py). It is in `TEMPLATES` (`TEMPLATE_NAMES`, `get_template`) and
not in `EVENTS` (`NAMES`, `get_event`), so it is listed, customised and previewed like the others
but cannot be emitted, routed or filtered on. Its scope is `any`: a tenant customises the digests
of its events, the system those of system events.

Scopes: `tenant` events are emitted for one tenant and customised per tenant; `system` events
come from the platform itself, go to the system recipients and are customised at system level.

Audiences (who gets the message):
- `tenant_recipients`: the tenant's notification recipients, all in one message;
- `payload_email`: the payload's `email` (a delivery of its own);
- `payload_email_or_tenant_recipients`: the payload's `email` when given, else the tenant's
  recipients (USER_CREATION);
- `system_recipients`: the system notification recipients.

Besides its payload fields, a template may use the variables mailbell adds while rendering
(`RENDER_VARIABLES`): for USER_CREATION the `cid:` address of the QR code image and the login
URI it encodes (see `login_uri`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import quote, urlencode

import pydantic

from core import catalog_payloads as p
from core.errors import NotFound, ValidationError
from core.vocabulary import EVENT_DESCRIPTIONS, EventName, TemplateName

Scope = Literal["tenant", "system"]
# A template's scope: an event's, or `any` (DIGEST: customised by whichever owner it serves).
TemplateScope = Literal["tenant", "system", "any"]
Audience = Literal[
    "tenant_recipients",
    "payload_email",
    "system_recipients",
    "payload_email_or_tenant_recipients",
    "owner_recipients",  # DIGEST: the recipients of the owner whose burst it closes
]


@dataclass(frozen=True)
class Event:
    name: str
    scope: TemplateScope
    toggle: str | None
    audience: Audience
    payload: type[p.Payload]
    sample: Mapping[str, Any]
    description: str
    render_variables: Mapping[str, str] = field(default_factory=dict)
    # Health notices reach everyone who looks after the owner: every Slack channel linked to the
    # tenant, whatever its routes; with no recipients they send no email (and that is no failure:
    # the toggle is on by default, before anyone set recipients).
    every_linked_channel: bool = False
    needs_recipients: bool = True

    def validate(self, data: Mapping[str, Any] | p.Payload) -> p.Payload:
        """The payload as its model; a missing or bad variable is a `ValidationError("data")`."""
        if isinstance(data, self.payload):
            return data
        if isinstance(data, pydantic.BaseModel):
            data = data.model_dump()
        try:
            return self.payload.model_validate(data)
        except pydantic.ValidationError as exc:
            problems = []
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "payload"
                if error["type"] == "missing":
                    problems.append(f"required variable {where!r} is missing")
                else:
                    problems.append(f"variable {where!r}: {error['msg']}")
            raise ValidationError("data", f"{self.name}: {'; '.join(problems)}") from None

    def sample_payload(self) -> p.Payload:
        return self.payload.model_validate(self.sample)

    def minimal_payload(self) -> p.Payload:
        """The sample without its optional fields: what a template must also cope with."""
        required = {
            k: v for k, v in self.sample.items() if self.payload.model_fields[k].is_required()
        }
        return self.payload.model_validate(required)


_UTC = "+00:00"
# The samples' files, written out (nothing is built at import): 0.1 s of 8 kHz 8-bit mono
# silence as a WAV file, and the call report as CSV; both base64.
_SAMPLE_WAV_BASE64 = (
    "UklGRkQDAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YSADAACAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA"
    "gICAgICAgICAgICAgICAgICAgICAgICAgA=="
)
_SAMPLE_REPORT_CSV_BASE64 = (
    "cXVldWUsdG90YWxfY2FsbHMsYW5zd2VyZWRfY2FsbHMsbWlzc2VkX2NhbGxzDQpTYWxlcyw0MjEwLDQwMzIs"
    "MTc4DQpTdXBwb3J0LDYxMjAsNTg5MCwyMzANClJlY2VwdGlvbiwyMTUwLDE5ODAsMTcwDQo="
)
_HEALTH_SAMPLE: dict[str, Any] = {
    "notice": "alert", "kind": "mail_server", "subject_key": "mail_server:3",
    "subject": "Main (smtp.acme.example)", "state": "critical", "previous_state": "ok",
    "reason": "connect: smtp.acme.example:587 refused the connection",
    "since": "2026-11-03T06:40:00" + _UTC,
    "action": "check that smtp.acme.example accepts connections on port 587, then run "
              "`mailbell server test 3`",
    "tenant_name": None, "checked_at": "2026-11-03T06:55:00" + _UTC,
}  # fmt: skip

EVENTS: dict[str, Event] = {
    event.name: event
    for event in (
        Event(
            "USER_CREATION", "tenant", "notify_user_registration",
            "payload_email_or_tenant_recipients", p.UserCreationPayload,
            {"display_name": "Amélie Laurent", "extension_number": "1001",
             "password": "x7#Qm2!pLr", "pbx_domain": "acme.pbx.example.com",
             "login_address": "203.0.113.10:5060", "email": "amelie.laurent@acme.example",
             "portal_url": "https://pbx.example.com/portal"},
            EVENT_DESCRIPTIONS[EventName.USER_CREATION],
            {"qr_code_src": "cid: address of the inline QR code image (use in <img src=...>)",
             "login_uri": "text the QR code encodes: sip:EXT@DOMAIN?server=...&password=..."},
        ),
        Event(
            "QUEUE_SLA", "tenant", "notify_queue_sla_breached", "tenant_recipients",
            p.QueueSlaPayload,
            {"queue_name": "Réception — file d'attente", "queue_number": "8001",
             "sla_seconds": 60, "waiting_seconds": 95, "caller": "+33 1 84 88 00 00",
             "caller_name": "Jean Dupont", "waiting_calls": 4,
             "occurred_at": "2026-11-03T14:05:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.QUEUE_SLA],
        ),
        Event(
            "QUEUE_CALLBACK", "tenant", "notify_queue_callback", "tenant_recipients",
            p.QueueCallbackPayload,
            {"queue_name": "Support", "queue_number": "8002", "caller": "+44 20 7946 0958",
             "caller_name": "Grace Hopper", "agent": "Bob Martin (1012)",
             "requested_at": "2026-11-03T09:12:00" + _UTC,
             "called_back_at": "2026-11-03T09:20:30" + _UTC, "talk_seconds": 312},
            EVENT_DESCRIPTIONS[EventName.QUEUE_CALLBACK],
        ),
        Event(
            "QUEUE_CALLBACK_FAILED", "tenant", "notify_queue_callback_failed",
            "tenant_recipients", p.QueueCallbackFailedPayload,
            {"queue_name": "Support", "queue_number": "8002", "caller": "+1 202 555 0143",
             "caller_name": "Ada Lovelace", "attempts": 3, "reason": "no answer",
             "requested_at": "2026-11-03T10:02:00" + _UTC,
             "last_attempt_at": "2026-11-03T10:32:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.QUEUE_CALLBACK_FAILED],
        ),
        Event(
            "QUEUE_CALL_LOST", "tenant", "notify_queue_call_lost", "tenant_recipients",
            p.QueueCallLostPayload,
            {"queue_name": "Sales", "queue_number": "8000", "caller": "+49 30 901820",
             "caller_name": None, "waiting_seconds": 184, "reason": "caller hung up",
             "occurred_at": "2026-11-03T11:47:10" + _UTC},
            EVENT_DESCRIPTIONS[EventName.QUEUE_CALL_LOST],
        ),
        Event(
            "VOICEMAIL_RECEIVED", "tenant", None, "payload_email", p.VoicemailReceivedPayload,
            {"email": "bob.martin@acme.example", "recipient_name": "Bob Martin",
             "mailbox": "1012", "caller": "+33 6 12 34 56 78", "caller_name": "Claire Petit",
             "duration_seconds": 42, "received_at": "2026-11-03T16:20:00" + _UTC,
             "listen_url": "https://pbx.example.com/portal/voicemail/5812",
             "recording": {"filename": "voicemail-1012.wav", "content_type": "audio/wav",
                           "data": _SAMPLE_WAV_BASE64},
             "recording_error": None},
            EVENT_DESCRIPTIONS[EventName.VOICEMAIL_RECEIVED],
        ),
        Event(
            "CALL_REPORT_COMPLETED", "tenant", None, "payload_email",
            p.CallReportCompletedPayload,
            {"email": "manager@acme.example", "report_name": "Queue performance — October",
             "period_start": "2026-10-01T00:00:00" + _UTC,
             "period_end": "2026-10-31T23:59:59" + _UTC, "total_calls": 12480,
             "answered_calls": 11902, "missed_calls": 578,
             "report_url": "https://pbx.example.com/portal/reports/4411.csv",
             "report_file": {"filename": "queue-performance-october.csv",
                             "content_type": "text/csv", "data": _SAMPLE_REPORT_CSV_BASE64}},
            EVENT_DESCRIPTIONS[EventName.CALL_REPORT_COMPLETED],
        ),
        Event(
            "CONFERENCE_INVITATION", "tenant", None, "payload_email",
            p.ConferenceInvitationPayload,
            {"email": "dana.scully@partner.example", "invitee_name": "Dana Scully",
             "organizer": "Fox Mulder", "title": "Quarterly review",
             "starts_at": "2026-11-10T15:00:00" + _UTC, "duration_minutes": 45,
             "conference_number": "9100", "dial_in_number": "+1 202 555 0100", "pin": "482913",
             "join_url": "https://pbx.example.com/meet/9100"},
            EVENT_DESCRIPTIONS[EventName.CONFERENCE_INVITATION],
        ),
        Event(
            "DISK_LOW", "system", "notify_disk_low", "system_recipients", p.DiskLowPayload,
            {"host": "pbx-01.example.com", "path": "/var/lib/pbx", "free_gb": "4.2",
             "total_gb": "100", "free_percent": "4.2", "threshold_percent": "10",
             "occurred_at": "2026-11-03T02:15:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.DISK_LOW],
        ),
        Event(
            "LICENSE_LIMITED", "system", "notify_license_limited", "system_recipients",
            p.LicenseLimitedPayload,
            {"product": "PBX Enterprise", "limit_name": "concurrent calls", "limit": 200,
             "in_use": 200, "expires_at": "2027-06-30T00:00:00" + _UTC,
             "occurred_at": "2026-11-03T10:00:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.LICENSE_LIMITED],
        ),
        Event(
            "RECHARGE", "system", "notify_recharge", "system_recipients", p.RechargePayload,
            {"account": "SIP trunk account 77-1042", "provider": "Example Telecom",
             "balance": "8.40", "threshold": "20.00", "currency": "EUR",
             "recharge_url": "https://billing.example.net/topup",
             "occurred_at": "2026-11-03T07:30:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.RECHARGE],
        ),
        Event(
            "EMERGENCY_CALL", "system", "notify_emergency_call", "system_recipients",
            p.EmergencyCallPayload,
            {"tenant_name": "Acme Corp", "caller": "1001", "caller_name": "Amélie Laurent",
             "dialed_number": "112", "location": "Building B, 3rd floor, Lyon",
             "trunk_name": "Example Telecom primary", "occurred_at": "2026-11-03T13:37:00" + _UTC},
            EVENT_DESCRIPTIONS[EventName.EMERGENCY_CALL],
        ),
        Event(
            "TRUNK_CONNECTED", "system", "notify_trunk_connected", "system_recipients",
            p.TrunkConnectedPayload,
            {"trunk_name": "Example Telecom primary", "host": "sip.example-telecom.net",
             "since": "2026-11-03T08:02:00" + _UTC, "downtime_seconds": 420},
            EVENT_DESCRIPTIONS[EventName.TRUNK_CONNECTED],
        ),
        Event(
            "TRUNK_DISCONNECTED", "system", "notify_trunk_disconnected", "system_recipients",
            p.TrunkDisconnectedPayload,
            {"trunk_name": "Example Telecom primary", "host": "sip.example-telecom.net",
             "since": "2026-11-03T07:55:00" + _UTC, "reason": "registration timed out (408)"},
            EVENT_DESCRIPTIONS[EventName.TRUNK_DISCONNECTED],
        ),
        Event(
            "MAIL_HEALTH", "tenant", "notify_mail_health", "tenant_recipients",
            p.MailHealthPayload, _HEALTH_SAMPLE | {"tenant_name": "Acme Corp"},
            EVENT_DESCRIPTIONS[EventName.MAIL_HEALTH],
            every_linked_channel=True, needs_recipients=False,
        ),
        Event(
            "SYSTEM_MAIL_HEALTH", "system", "notify_mail_health", "system_recipients",
            p.MailHealthPayload,
            _HEALTH_SAMPLE | {
                "kind": "service", "subject_key": "service:keys", "subject": "key ring",
                "reason": "a stored secret opens with no key of the ring (the key file "
                          "/etc/mailbell/secret.key changed): restore the previous key file",
                "action": "restore the previous key file, or put its key back in "
                          "MAILBELL_SECRET_KEYS, then run `mailbell health check --system`",
            },
            EVENT_DESCRIPTIONS[EventName.SYSTEM_MAIL_HEALTH],
            needs_recipients=False,
        ),
    )
}  # fmt: skip

DIGEST = "DIGEST"
_DIGEST_TEMPLATE = Event(
    DIGEST, "any", None, "owner_recipients", p.DigestPayload,
    {"event": "QUEUE_CALL_LOST", "event_description": "call queue call lost notification",
     "count": 3, "what": "lost calls", "where": "in queue Sales", "queue_name": "Sales",
     "headline": "3 more lost calls in queue Sales",
     "items": [
         {"at": "2026-11-03T10:05:12" + _UTC,
          "summary": "+49 30 901820 waited 3 min 4 sec: caller hung up",
          "fields": {"Caller": "+49 30 901820", "Waiting": "3 min 4 sec",
                     "Reason": "caller hung up"}, "link": None},
         {"at": "2026-11-03T10:07:40" + _UTC,
          "summary": "Claire Petit (+33 6 12 34 56 78) waited 45 sec: timeout",
          "fields": {"Caller": "+33 6 12 34 56 78", "Caller name": "Claire Petit",
                     "Waiting": "45 sec", "Reason": "timeout"}, "link": None},
         {"at": "2026-11-03T10:14:03" + _UTC,
          "summary": "+44 20 7946 0958 waited 1 min 12 sec: caller hung up",
          "fields": {"Caller": "+44 20 7946 0958", "Waiting": "1 min 12 sec",
                     "Reason": "caller hung up"},
          "link": "https://pbx.example.com/portal/queues/8000"},
     ],
     "omitted": 0, "window_start": "2026-11-03T10:05:00" + _UTC,
     "window_end": "2026-11-03T10:15:00" + _UTC, "tenant": "Acme Corp"},
    "digest of a burst: the events held past the owner's digest policy, sent as one message",
)  # fmt: skip

NAMES: tuple[str, ...] = tuple(EVENTS)
# Everything `mailbell template` knows: the events' templates, then DIGEST.
TEMPLATES: dict[str, Event] = {**EVENTS, DIGEST: _DIGEST_TEMPLATE}
TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATES)
# The template names of the PortSIP API, whose template endpoints list exactly these.
PORTSIP_NAMES: tuple[str, ...] = tuple(TemplateName)
# Toggles that may be on while the owner has no recipients (their email then just is not sent).
TOGGLES_WITHOUT_RECIPIENTS = frozenset(
    e.toggle for e in EVENTS.values() if e.toggle and not e.needs_recipients
)


def get_event(name: str, *, field: str | None = None, among: tuple[str, ...] = NAMES) -> Event:
    """The event named `name` (any case) among `among` (every event unless told). Unknown:
    `NotFound`, or `ValidationError(field)`, listing the valid names."""
    event = TEMPLATES.get(name.strip().upper()) if isinstance(name, str) else None
    if event is None or event.name not in among:
        message = f"unknown template/event {name!r}; valid names: {', '.join(among)}"
        if event is not None and event.name == DIGEST:
            message = (
                f"{DIGEST} is the template of mailbell's digests, not an event: mailbell "
                f"sends a digest itself when a burst's window closes; valid names: "
                f"{', '.join(among)}"
            )
        if field is not None:
            raise ValidationError(field, message)
        raise NotFound(message)
    return event


def get_template(name: str, *, field: str | None = None) -> Event:
    """The template named `name` (any case): an event's, or DIGEST. Unknown: as `get_event`."""
    return get_event(name, field=field, among=TEMPLATE_NAMES)


_TYPE_NAMES: dict[Any, str] = {
    str: "string", int: "integer", bool: "boolean", float: "number", Decimal: "number",
    datetime: "datetime", pydantic.EmailStr: "email", p.AttachedFile: "file",
}  # fmt: skip


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) in (list, tuple):
        return "list"
    if get_origin(annotation) is dict:
        return "mapping"
    if get_origin(annotation) in (Union, UnionType):
        args = [arg for arg in get_args(annotation) if arg is not NoneType]
        annotation = args[0] if len(args) == 1 else annotation
    return _TYPE_NAMES.get(annotation, "string")


def variables(name: str) -> dict[str, dict[str, Any]]:
    """`{var: {"type", "required", "description"}}`: what a template of this event may use."""
    event = get_template(name)
    result: dict[str, dict[str, Any]] = {}
    for var, info in event.payload.model_fields.items():
        result[var] = {
            "type": _type_name(info.annotation),
            "required": info.is_required(),
            "description": info.description or "",
        }
    for var, description in event.render_variables.items():
        result[var] = {"type": "string", "required": False, "description": description}
    return result


def sample(name: str) -> dict[str, Any]:
    """The sample payload as JSON-ready values (what `template show --json` prints)."""
    return get_template(name).sample_payload().model_dump(mode="json")


def validate_payload(name: str, data: Mapping[str, Any] | p.Payload) -> p.Payload:
    return get_event(name).validate(data)


def login_uri(payload: p.UserCreationPayload) -> str:
    """What the USER_CREATION QR code encodes: the SIP account plus where and how to sign in.

    `sip:EXTENSION@PBX_DOMAIN?server=LOGIN_ADDRESS&password=PASSWORD` (query values
    percent-encoded), which a softphone can scan to fill in its account settings.
    """
    account = f"sip:{quote(payload.extension_number, safe='')}@{payload.pbx_domain}"
    return (
        account + "?" + urlencode({"server": payload.login_address, "password": payload.password})
    )
