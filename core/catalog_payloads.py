"""The payload of each event: the variables its template may use, with types and descriptions.

Every model ignores unknown keys (a sender may send more than a template can use), accepts naive
datetimes as UTC, and validates `email` as an address. No string variable is longer than 500
characters (`Text`) or, for free text, 10,000 (`LongText`). `core/catalog.py` ties each model to its
event, toggle, audience and sample payload.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.attachments import checks
from core.vocabulary import (
    ATTACHMENT_FILENAME_MAX_LENGTH,
    DIGEST_ITEMS_MAX,
    HealthKind,
    HealthState,
)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
HttpUrlText = Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
# Free text with no tighter rule (names, reasons, locations) still has a ceiling: a payload is
# stored, rendered into every message and mirrored to Slack, so one 900 KB variable would be
# copied into each of them.
PAYLOAD_TEXT_MAX = 10_000
LongText = Annotated[str, Field(max_length=PAYLOAD_TEXT_MAX)]


class AttachedFile(BaseModel):
    """A file an event carries to its mail: `data` (base64) or a `url` mailbell fetches
    (core/attachments/fetch.py), exactly one. The decoded bytes (`content`) are never dumped,
    and neither is `data`: the event row, Slack mirrors and webhooks carry the payload, and a
    dump says `size` instead (a stored copy validates again, without its content)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    filename: str | None = Field(
        default=None,
        max_length=ATTACHMENT_FILENAME_MAX_LENGTH,
        description="The file's name (its basename is kept)",
    )
    content_type: str | None = Field(default=None, description="type/subtype, e.g. audio/wav")
    data: str | None = Field(default=None, exclude=True, repr=False, description="The file, base64")
    url: HttpUrlText | None = Field(default=None, description="Where mailbell fetches the file")
    size: int | None = Field(
        default=None, ge=0, description="The file's size in bytes (set by mailbell)"
    )
    _content: bytes | None = PrivateAttr(default=None)

    @property
    def content(self) -> bytes | None:
        """The decoded file (None: not given, or left out of a stored copy)."""
        return self._content

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        return None if value is None else checks.basename(value)

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str | None) -> str | None:
        return None if value is None else checks.content_type(value)

    @model_validator(mode="after")
    def _one_source(self) -> AttachedFile:
        if self.data is not None and self.url is not None:
            raise PydanticCustomError("attachment", "give either data or url, not both")
        if self.data is not None:
            # Read per validation, not at import: a test or an operator may change it.
            from core.config import load_settings

            content = checks.decode(self.data, limit=load_settings().attachment_max_bytes)
            self._content = content
            object.__setattr__(self, "size", len(content))  # what a dump shows instead
        elif self.url is None and self.size is None:
            raise PydanticCustomError("attachment", "give the file as data (base64) or a url")
        return self

    def completed(self, kind: checks.FileKind, *, name: str) -> AttachedFile:
        """The file checked against what `kind` accepts, its type and name filled in."""
        if self.url is not None and not kind.fetched:
            raise PydanticCustomError(
                "attachment", "give the file as data (base64): a url is not fetched for it"
            )
        found = self.content_type or checks.guess_type(self.filename, self._content)
        if found is None and self.url is None:
            found = kind.fallback_type
        if found is None and self._content is not None:
            raise PydanticCustomError(
                "attachment", "content_type is missing and neither the name nor the file say it"
            )
        if found is not None:
            checks.check_type(kind, found)
        filename = self.filename
        if filename is None and found is not None:
            filename = kind.default_name(name, found)
        if filename == self.filename and found == self.content_type:
            return self
        return self.model_copy(update={"filename": filename, "content_type": found})


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class QueuePayload(Payload):
    queue_name: Text = Field(description="Name of the call queue")
    queue_number: Text = Field(description="Extension number of the call queue")


class UserCreationPayload(Payload):
    display_name: Text = Field(description="Name of the new user")
    extension_number: Text = Field(description="Extension number the user signs in with")
    password: Text = Field(description="Initial SIP/extension password of the user")
    pbx_domain: Text = Field(description="SIP domain of the tenant on the PBX")
    login_address: Text = Field(
        description="Address (host or IP, optionally :port) the client apps register to"
    )
    email: EmailStr | None = Field(
        default=None, description="The user's own address; the welcome mail goes there when set"
    )
    portal_url: HttpUrlText | None = Field(
        default=None, description="Web portal address where the user can sign in"
    )


class QueueSlaPayload(QueuePayload):
    sla_seconds: int = Field(ge=0, description="SLA threshold of the queue, in seconds")
    waiting_seconds: int = Field(ge=0, description="How long the caller had been waiting")
    caller: Text = Field(description="Caller's number (caller ID)")
    caller_name: LongText | None = Field(default=None, description="Caller's name, when known")
    waiting_calls: int | None = Field(
        default=None, ge=0, description="Calls waiting in the queue at that moment"
    )
    occurred_at: UtcDatetime = Field(description="When the SLA was breached")


class QueueCallbackPayload(QueuePayload):
    caller: Text = Field(description="Number that was called back")
    caller_name: LongText | None = Field(default=None, description="Caller's name, when known")
    agent: Text = Field(description="Agent (name or extension) who took the callback")
    requested_at: UtcDatetime = Field(description="When the caller asked for a callback")
    called_back_at: UtcDatetime = Field(description="When the callback was answered")
    talk_seconds: int | None = Field(
        default=None, ge=0, description="Duration of the callback conversation"
    )


class QueueCallbackFailedPayload(QueuePayload):
    caller: Text = Field(description="Number that could not be called back")
    caller_name: LongText | None = Field(default=None, description="Caller's name, when known")
    attempts: int = Field(ge=1, description="Callback attempts made")
    reason: Text = Field(description="Why the last attempt failed (busy, no answer, ...)")
    requested_at: UtcDatetime = Field(description="When the caller asked for a callback")
    last_attempt_at: UtcDatetime = Field(description="When the last attempt was made")


class QueueCallLostPayload(QueuePayload):
    caller: Text = Field(description="Caller's number (caller ID)")
    caller_name: LongText | None = Field(default=None, description="Caller's name, when known")
    waiting_seconds: int = Field(ge=0, description="How long the caller waited before the loss")
    reason: Text = Field(description="Why the call was lost (caller hung up, timeout, ...)")
    occurred_at: UtcDatetime = Field(description="When the call was lost")


class VoicemailReceivedPayload(Payload):
    email: EmailStr = Field(description="Mailbox owner's address: the notification goes there")
    recipient_name: Text = Field(description="Mailbox owner's name")
    mailbox: Text = Field(description="Voicemail box (extension number)")
    caller: Text = Field(description="Caller's number (caller ID)")
    caller_name: LongText | None = Field(default=None, description="Caller's name, when known")
    duration_seconds: int = Field(ge=0, description="Length of the message, in seconds")
    received_at: UtcDatetime = Field(description="When the message was left")
    listen_url: HttpUrlText | None = Field(
        default=None, description="Link to listen to the message in the portal"
    )
    recording: AttachedFile | None = Field(
        default=None,
        description="The recording, attached to the mail (audio/wav or audio/mpeg): `data` "
        "(base64) or a `url` mailbell fetches",
    )
    recording_error: LongText | None = Field(
        default=None, description="Why the recording's URL could not be fetched (set by mailbell)"
    )

    @field_validator("recording")
    @classmethod
    def _recording(cls, file: AttachedFile | None, info: ValidationInfo) -> AttachedFile | None:
        mailbox = str(info.data.get("mailbox") or "")
        return None if file is None else file.completed(checks.RECORDING, name=mailbox)


class CallReportCompletedPayload(Payload):
    email: EmailStr = Field(description="Address of the person who asked for the report")
    report_name: Text = Field(description="Name of the call report")
    period_start: UtcDatetime = Field(description="Start of the reported period")
    period_end: UtcDatetime = Field(description="End of the reported period")
    total_calls: int = Field(ge=0, description="Calls in the period")
    answered_calls: int = Field(ge=0, description="Answered calls in the period")
    missed_calls: int = Field(ge=0, description="Missed or lost calls in the period")
    report_url: HttpUrlText = Field(description="Link to download the report")
    report_file: AttachedFile | None = Field(
        default=None, description="The report file, attached to the mail: `data` (base64)"
    )

    @field_validator("report_file")
    @classmethod
    def _report_file(cls, file: AttachedFile | None, info: ValidationInfo) -> AttachedFile | None:
        name = str(info.data.get("report_name") or "")
        return None if file is None else file.completed(checks.REPORT_FILE, name=name)


class ConferenceInvitationPayload(Payload):
    email: EmailStr = Field(description="Invitee's address: the invitation goes there")
    invitee_name: LongText | None = Field(default=None, description="Invitee's name, when known")
    organizer: Text = Field(description="Name of the person who set up the meeting")
    title: Text = Field(description="Title of the meeting")
    starts_at: UtcDatetime = Field(description="Start of the meeting")
    duration_minutes: int = Field(ge=1, description="Planned length, in minutes")
    conference_number: Text = Field(description="Conference room number to dial internally")
    dial_in_number: LongText | None = Field(default=None, description="External dial-in number")
    pin: LongText | None = Field(default=None, description="Participant PIN, when the room has one")
    join_url: HttpUrlText | None = Field(default=None, description="Link to join from a browser")


class DiskLowPayload(Payload):
    host: Text = Field(description="Server whose disk is filling up")
    path: Text = Field(description="Mount point or volume that is low")
    free_gb: Decimal = Field(ge=0, description="Free space left, in GB")
    total_gb: Decimal = Field(gt=0, description="Size of the volume, in GB")
    free_percent: Decimal = Field(ge=0, le=100, description="Free space left, in percent")
    threshold_percent: Decimal = Field(ge=0, le=100, description="Alert threshold, in percent")
    occurred_at: UtcDatetime = Field(description="When the threshold was crossed")


class LicenseLimitedPayload(Payload):
    product: Text = Field(description="Licensed product or edition")
    limit_name: Text = Field(description="What is limited (concurrent calls, extensions, ...)")
    limit: int = Field(ge=0, description="Licensed maximum")
    in_use: int = Field(ge=0, description="Current use when the limit was hit")
    expires_at: UtcDatetime | None = Field(default=None, description="When the license expires")
    occurred_at: UtcDatetime = Field(description="When the limit was reached")


class RechargePayload(Payload):
    account: Text = Field(description="Billing or trunk account that needs credit")
    provider: LongText | None = Field(default=None, description="Carrier or billing provider")
    balance: Decimal = Field(description="Balance left")
    threshold: Decimal = Field(description="Balance under which this alert is sent")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code")
    recharge_url: HttpUrlText | None = Field(default=None, description="Where to top up")
    occurred_at: UtcDatetime = Field(description="When the balance went under the threshold")


class EmergencyCallPayload(Payload):
    tenant_name: Text = Field(description="Tenant the caller belongs to")
    caller: Text = Field(description="Extension that placed the call")
    caller_name: LongText | None = Field(default=None, description="Name of that extension's user")
    dialed_number: Text = Field(description="Emergency number dialed")
    location: LongText | None = Field(default=None, description="Registered location of the caller")
    trunk_name: LongText | None = Field(default=None, description="Trunk the call went out on")
    occurred_at: UtcDatetime = Field(description="When the call was placed")


class TrunkConnectedPayload(Payload):
    trunk_name: Text = Field(description="Name of the SIP trunk")
    host: Text = Field(description="Provider host the trunk registers to")
    since: UtcDatetime = Field(description="When the trunk came back up")
    downtime_seconds: int | None = Field(
        default=None, ge=0, description="How long it had been down"
    )


class TrunkDisconnectedPayload(Payload):
    trunk_name: Text = Field(description="Name of the SIP trunk")
    host: Text = Field(description="Provider host the trunk registers to")
    since: UtcDatetime = Field(description="When the trunk went down")
    reason: LongText | None = Field(default=None, description="Last error (timeout, 403, ...)")


class MailHealthPayload(Payload):
    """A health notice (core/health): a subject of mailbell's own mail path changed state."""

    notice: Literal["alert", "reminder", "recovery"] = Field(
        description="alert: it got worse; reminder: it still lasts; recovery: it is ok again"
    )
    kind: HealthKind = Field(
        description="What the subject is: mail_server, email_account, slack, backlog or service"
    )
    subject_key: Text = Field(
        description="The subject's key, as `mailbell health` names it (e.g. mail_server:3)"
    )
    subject: Text = Field(description="The subject's name (a server, an address, a channel)")
    state: HealthState = Field(description="Its state now: ok, warning, critical or unknown")
    previous_state: HealthState = Field(description="Its state before (what was last told)")
    reason: LongText = Field(description="What is wrong (empty when all is well)")
    since: UtcDatetime = Field(description="Since when the subject has been in this state")
    action: LongText | None = Field(default=None, description="What to do about it")
    tenant_name: Text | None = Field(default=None, description="The tenant the subject belongs to")
    checked_at: UtcDatetime = Field(description="When the check that found it ran")


class DigestItem(Payload):
    """One held event of a digest."""

    at: UtcDatetime = Field(description="When the event was emitted")
    summary: LongText = Field(description="The event in one line (caller, reason, ...)")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="The event's values as shown, by label (secrets left out)",
    )
    link: HttpUrlText | None = Field(default=None, description="The event's link, when it has one")


class DigestPayload(Payload):
    """A digest: the events of one burst held past the owner's policy, sent when its window
    closed (core/channels/digest_content.py builds it)."""

    event: Text = Field(description="The held events' name, e.g. QUEUE_CALL_LOST")
    event_description: Text = Field(description="What that event announces")
    count: int = Field(ge=1, description="How many events were held (all of them)")
    what: Text = Field(description="What they are, matching the count: 'lost calls'")
    where: Text | None = Field(
        default=None,
        description="What they share, when they share it: 'in queue Sales', 'on pbx-01'",
    )
    queue_name: Text | None = Field(
        default=None, description="The queue, when every held event names the same one"
    )
    headline: Text = Field(description="Count, what and where: '12 more lost calls in queue Sales'")
    items: tuple[DigestItem, ...] = Field(
        max_length=DIGEST_ITEMS_MAX,
        description="The held events in order: each has at, summary, fields and link",
    )
    omitted: int = Field(default=0, ge=0, description="Held events not listed (past the limit)")
    window_start: UtcDatetime = Field(description="When the window opened")
    window_end: UtcDatetime = Field(description="When it closed")
    tenant: Text | None = Field(default=None, description="The tenant's name (none: the system)")
