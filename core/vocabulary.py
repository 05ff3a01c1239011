"""mailbell's words and limits, declared once: statuses, channels, providers, modes, events, scopes,
toggles and their labels, field limits.

Any module may import this at top level: it imports nothing but the standard library, so the
CLI's `--help`, the TUI's widgets and the Slack blocks read the same lists without loading
SQLAlchemy, Textual or Slack. Each enum is a `StrEnum`: its members compare equal to the strings
stored in the database and carried on the wire.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    # At least one recipient accepted the message and at least one refused it for good.
    PARTIAL = "partial"
    # Folded into a digest: never sent itself; its `digest_id` names the digest delivery.
    HELD = "held"


class HealthState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


class HealthKind(StrEnum):
    MAIL_SERVER = "mail_server"
    EMAIL_ACCOUNT = "email_account"
    SLACK = "slack"
    BACKLOG = "backlog"
    SERVICE = "service"


class WorkerKind(StrEnum):
    """What runs a delivery worker loop (its heartbeat row's `kind`)."""

    SERVE = "serve"
    WORKER = "worker"


class Channel(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"


class RecipientMode(StrEnum):
    """How an owner's recipients share a message: all in `To:` (one message), hidden in the
    envelope (one message, `To:` undisclosed), or one message each."""

    TO = "to"
    BCC = "bcc"
    INDIVIDUAL = "individual"


class Provider(StrEnum):
    SMTP = "SMTP"
    GMAIL = "GMAIL"
    MS365 = "MS365"
    SENDGRID = "SENDGRID"


class SecurityMode(StrEnum):
    NONE = "none"
    STARTTLS_AUTO = "starttls-auto"
    STARTTLS = "starttls"
    TLS = "tls"


class ImapSecurity(StrEnum):
    TLS = "tls"
    STARTTLS = "starttls"
    PLAIN = "plain"


class AuthMode(StrEnum):
    DISABLE = "DISABLE"
    AUTO = "AUTO"
    LOGIN = "LOGIN"
    PLAIN = "PLAIN"
    XOAUTH2 = "XOAUTH2"


class EventScope(StrEnum):
    TENANT = "tenant"
    SYSTEM = "system"


class EventName(StrEnum):
    USER_CREATION = "USER_CREATION"
    QUEUE_SLA = "QUEUE_SLA"
    QUEUE_CALLBACK = "QUEUE_CALLBACK"
    QUEUE_CALLBACK_FAILED = "QUEUE_CALLBACK_FAILED"
    QUEUE_CALL_LOST = "QUEUE_CALL_LOST"
    VOICEMAIL_RECEIVED = "VOICEMAIL_RECEIVED"
    CALL_REPORT_COMPLETED = "CALL_REPORT_COMPLETED"
    CONFERENCE_INVITATION = "CONFERENCE_INVITATION"
    DISK_LOW = "DISK_LOW"
    LICENSE_LIMITED = "LICENSE_LIMITED"
    RECHARGE = "RECHARGE"
    EMERGENCY_CALL = "EMERGENCY_CALL"
    TRUNK_CONNECTED = "TRUNK_CONNECTED"
    TRUNK_DISCONNECTED = "TRUNK_DISCONNECTED"
    MAIL_HEALTH = "MAIL_HEALTH"
    SYSTEM_MAIL_HEALTH = "SYSTEM_MAIL_HEALTH"


class TemplateName(StrEnum):
    """The 14 template names of the PortSIP API: its template endpoints know these and no more
    (mailbell's own events, the health watch's, are not among them)."""

    USER_CREATION = "USER_CREATION"
    QUEUE_SLA = "QUEUE_SLA"
    QUEUE_CALLBACK = "QUEUE_CALLBACK"
    QUEUE_CALLBACK_FAILED = "QUEUE_CALLBACK_FAILED"
    QUEUE_CALL_LOST = "QUEUE_CALL_LOST"
    VOICEMAIL_RECEIVED = "VOICEMAIL_RECEIVED"
    CALL_REPORT_COMPLETED = "CALL_REPORT_COMPLETED"
    CONFERENCE_INVITATION = "CONFERENCE_INVITATION"
    DISK_LOW = "DISK_LOW"
    LICENSE_LIMITED = "LICENSE_LIMITED"
    RECHARGE = "RECHARGE"
    EMERGENCY_CALL = "EMERGENCY_CALL"
    TRUNK_CONNECTED = "TRUNK_CONNECTED"
    TRUNK_DISCONNECTED = "TRUNK_DISCONNECTED"


# Final statuses: a delivery in one of these is never sent again (and may be pruned).
FINAL_STATUSES: Final = (
    DeliveryStatus.SENT,
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.FAILED,
    DeliveryStatus.PARTIAL,
    DeliveryStatus.HELD,
)
OAUTH_PROVIDERS: Final = (Provider.GMAIL, Provider.MS365)

PROVIDER_LABELS: Final = MappingProxyType(
    {
        Provider.SMTP: "SMTP (any server)",
        Provider.GMAIL: "Gmail",
        Provider.MS365: "Microsoft 365",
        Provider.SENDGRID: "SendGrid",
    }
)
# In the order a form offers them: the safe choices first.
SECURITY_LABELS: Final = MappingProxyType(
    {
        SecurityMode.STARTTLS: "STARTTLS, required (587)",
        SecurityMode.TLS: "TLS, implicit (465)",
        SecurityMode.STARTTLS_AUTO: "STARTTLS if offered",
        SecurityMode.NONE: "None (plain text)",
    }
)
AUTH_LABELS: Final = MappingProxyType(
    {
        AuthMode.AUTO: "Auto",
        AuthMode.PLAIN: "PLAIN",
        AuthMode.LOGIN: "LOGIN",
        AuthMode.XOAUTH2: "XOAUTH2 (OAuth 2.0)",
        AuthMode.DISABLE: "Disabled (no AUTH)",
    }
)

# The per-event switches of a tenant and of the system, with the words the portal shows.
TENANT_TOGGLE_LABELS: Final = MappingProxyType(
    {
        "notify_user_registration": "A new user was created",
        "notify_queue_sla_breached": "When queue SLA time has been breached",
        "notify_queue_callback": "When a queue callback has been made",
        "notify_queue_callback_failed": "When the queue callback is unsuccessful",
        "notify_queue_call_lost": "When a queue call is lost",
        "notify_mail_health": "Health alerts: mailbell's mail path is in trouble",
    }
)
SYSTEM_TOGGLE_LABELS: Final = MappingProxyType(
    {
        "notify_disk_low": "Disk space is low",
        "notify_license_limited": "The license limit is reached",
        "notify_recharge": "Recharge",
        "notify_emergency_call": "An emergency call was made",
        "notify_trunk_connected": "A trunk connected",
        "notify_trunk_disconnected": "A trunk disconnected",
        "notify_mail_health": "Health alerts: mailbell's mail path is in trouble",
    }
)
TENANT_TOGGLES: Final[tuple[str, ...]] = tuple(TENANT_TOGGLE_LABELS)
SYSTEM_TOGGLES: Final[tuple[str, ...]] = tuple(SYSTEM_TOGGLE_LABELS)

# What each event announces (the template list's description column).
EVENT_DESCRIPTIONS: Final = MappingProxyType(
    {
        EventName.USER_CREATION: (
            "user creation notification (welcome email with login details and QR code)"
        ),
        EventName.QUEUE_SLA: "call queue sla time reached notification",
        EventName.QUEUE_CALLBACK: "call queue callback notification",
        EventName.QUEUE_CALLBACK_FAILED: "call queue callback failed notification",
        EventName.QUEUE_CALL_LOST: "call queue call lost notification",
        EventName.VOICEMAIL_RECEIVED: "received voicemail notification",
        EventName.CALL_REPORT_COMPLETED: "call report completed notification",
        EventName.CONFERENCE_INVITATION: "meeting invitation notification",
        EventName.DISK_LOW: "low disk notification",
        EventName.LICENSE_LIMITED: "license limited notification",
        EventName.RECHARGE: "recharge notification",
        EventName.EMERGENCY_CALL: "emergency call notification",
        EventName.TRUNK_CONNECTED: "trunk connected notification",
        EventName.TRUNK_DISCONNECTED: "trunk disconnected notification",
        EventName.MAIL_HEALTH: "mail path health alert (a server, account, Slack route or queue)",
        EventName.SYSTEM_MAIL_HEALTH: (
            "system mail path health alert (system servers, the Slack token, the service)"
        ),
    }
)

# How bad each health state is: an alert goes out when a subject's state gets worse than the
# one its admins were last told about. `unknown` (not checked yet) ranks with ok.
HEALTH_SEVERITY: Final = MappingProxyType(
    {HealthState.OK: 0, HealthState.UNKNOWN: 0, HealthState.WARNING: 1, HealthState.CRITICAL: 2}
)
# Glyphs that carry the state without colour (TUI, Slack, CLI).
HEALTH_GLYPHS: Final = MappingProxyType(
    {
        HealthState.OK: "✓",
        HealthState.WARNING: "!",
        HealthState.CRITICAL: "✗",
        HealthState.UNKNOWN: "?",
    }
)

RECIPIENT_MODE_LABELS: Final = MappingProxyType(
    {
        RecipientMode.TO: "Everyone in To: (one message)",
        RecipientMode.BCC: "Hidden (Bcc, one message)",
        RecipientMode.INDIVIDUAL: "One message per recipient",
    }
)

# Digests: per owner and event, the first DIGEST_AFTER events of a window go one by one, the
# rest are held and sent as one digest when the window closes. Events sent to the owner's
# recipients only: a payload-addressed mail (a welcome, a voicemail) is for one person, and
# health alerts have their own reminders.
DIGEST_TENANT_EVENTS: Final[tuple[EventName, ...]] = (
    EventName.USER_CREATION,
    EventName.QUEUE_SLA,
    EventName.QUEUE_CALLBACK,
    EventName.QUEUE_CALLBACK_FAILED,
    EventName.QUEUE_CALL_LOST,
)
DIGEST_SYSTEM_EVENTS: Final[tuple[EventName, ...]] = (
    EventName.DISK_LOW,
    EventName.LICENSE_LIMITED,
    EventName.RECHARGE,
    EventName.EMERGENCY_CALL,
    EventName.TRUNK_CONNECTED,
    EventName.TRUNK_DISCONNECTED,
)
DIGEST_EVENTS: Final = (*DIGEST_TENANT_EVENTS, *DIGEST_SYSTEM_EVENTS)
DIGEST_SETTING_PREFIX: Final = "digest."
DIGEST_AFTER_DEFAULT: Final = 3
DIGEST_WINDOW_DEFAULT_S: Final = 600
DIGEST_AFTER_MAX: Final = 1000
DIGEST_WINDOW_MAX_S: Final = 86_400
# Held events listed in one digest; past this the digest says how many more it left out.
DIGEST_ITEMS_MAX: Final = 500

# Limits of what an owner may set.
MAX_RECIPIENTS: Final = 15
USERNAME_MAX_LENGTH: Final = 128
SECRET_MAX_LENGTH: Final = 1024
PORT_MIN: Final = 1
PORT_MAX: Final = 65535
RATE_LIMIT_MAX_PER_MINUTE: Final = 100_000
WEBHOOK_URL_MAX_LENGTH: Final = 2048
WEBHOOK_SECRET_MAX_LENGTH: Final = 256
WEBHOOKS_PER_OWNER_MAX: Final = 20

# Where mail reads right (core/locality.py): each owner's IANA time zone and locale. A tenant
# that sets neither follows the system's; the system's default is UTC and en_US.
DEFAULT_TIMEZONE: Final = "UTC"
DEFAULT_LOCALE: Final = "en_US"
TIMEZONE_MAX_LENGTH: Final = 64
LOCALE_MAX_LENGTH: Final = 16
# Languages mailbell ships default templates in (data/templates/ is English; fr/ and de/).
SHIPPED_LANGUAGES: Final = ("en", "fr", "de")
LOCALE_LABELS: Final = MappingProxyType(
    {
        "en_US": "English (United States)",
        "en_GB": "English (United Kingdom)",
        "fr_FR": "Français (France)",
        "fr_CA": "Français (Canada)",
        "de_DE": "Deutsch (Deutschland)",
        "de_CH": "Deutsch (Schweiz)",
    }
)

# Files carried by a message (core/attachments): the largest one accepted at ingest or fetched
# (`MAILBELL_ATTACHMENT_MAX_BYTES`), and the whole message with them (`MAILBELL_MESSAGE_MAX_BYTES`).
ATTACHMENT_MAX_BYTES_DEFAULT: Final = 10 * 1024 * 1024
MESSAGE_MAX_BYTES_DEFAULT: Final = 25 * 1024 * 1024
ATTACHMENT_FETCH_TIMEOUT_S_DEFAULT: Final = 15.0
ATTACHMENT_FILENAME_MAX_LENGTH: Final = 200


# How the steps of a connection test are named to people (the TUI's report, Slack's form).
CONNECTION_STEP_LABELS: Final = MappingProxyType(
    {
        "dns": "DNS",
        "proxy": "Proxy",
        "connect": "TCP",
        "tls": "TLS",
        "greeting": "Greeting",
        "ehlo": "EHLO",
        "starttls": "STARTTLS",
        "auth": "AUTH",
        "mail": "MAIL FROM",
        "oauth": "OAuth",
    }
)


def connection_step_label(step: str) -> str:
    return CONNECTION_STEP_LABELS.get(step, step.upper())


class Role(StrEnum):
    """What a console session (an SSH key, `mailbell tui --as NAME`) may do."""

    SYSTEM_ADMIN = "system-admin"  # everything, as plain local `mailbell tui`
    TENANT_ADMIN = "tenant-admin"  # read and change its listed tenants only
    VIEWER = "viewer"  # read only: every tenant, or its listed tenants


# A tenant's slug: lowercase letters, digits and inner hyphens, at most 63 (a DNS label).
TENANT_SLUG_PATTERN: Final = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
# The SSH console's key names (`mailbell ssh key add`); its limits are settings (core/config.py).
SSH_KEY_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class TokenScope(StrEnum):
    """What an API token may do. Scopes are independent: none implies another, so a route
    needs exactly one and a refusal names it."""

    READ = "read"  # every GET
    WRITE = "write"  # every change, except ingest and management
    EVENTS = "events"  # `POST /api/events` only: what a platform's event emitter needs
    ADMIN = "admin"  # tokens and tenants


# A new token's scopes when none are given: everything but management.
TOKEN_SCOPES_DEFAULT: Final = frozenset({TokenScope.READ, TokenScope.WRITE, TokenScope.EVENTS})
# Tokens made before scopes existed have them all (migration 0020): they keep their rights.
TOKEN_SCOPES_ALL: Final = frozenset(TokenScope)
# Durations (`--expires 90d`, an age such as `--since 7d`): minutes, hours, days or weeks; an
# expiry is at most this far ahead.
TOKEN_EXPIRY_UNITS: Final = MappingProxyType({"m": 60, "h": 3600, "d": 86400, "w": 604800})
TOKEN_MAX_LIFETIME_DAYS: Final = 3650

# The largest row id: ids are 32-bit integers in PostgreSQL (SQLite's go further), so a larger
# id names no row, and looking it up must say so rather than fail in the driver.
ROW_ID_MAX: Final = 2**31 - 1
