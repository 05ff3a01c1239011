"""The one interface every channel implements, in two halves.

- `Renderer` (the emit side, no I/O but the database session emit holds): which deliveries an
  event makes on this channel (`rows`: their targets and, when the message does not need the
  delivery id, their content) and the message of a row once its delivery id is known
  (`message`). Stateless: one instance serves every emit of the process.
- `Channel` (the worker side, built from the context): sends one claimed delivery and
  classifies failures as `RetryableError` (with `retry_after` when the other side asked for a
  delay) or `PermanentError`. Optional capabilities have neutral defaults, so the worker calls
  them on every channel and never asks which channel it holds:
  `prepare(batch)` (on the worker's database thread, before the batch's sends: email loads its
  servers), `rate_limit(delivery)` (a per-minute limit shared by every worker; 0 = none),
  `reserve_slot(target, max_wait)` (per-target pacing: the wait for a send slot, or minus the
  wait when it is further off than `max_wait`), `threads_bursts` (alerts of one burst go as
  replies under the first: Slack).
- `Renderer.digests` / `Renderer.digest(...)`: a channel whose renderer digests (email, Slack)
  has the events of a burst past the owner's policy held (core/pipeline/digests.py) and sends,
  when the window closes, the one message `digest` renders from them.
- `Renderer.edits` / `Renderer.edited(...)`: a channel that can change a message it posted
  (Slack) gets edit deliveries (core/pipeline/alert_edits.py decides which and when): a
  delivery with `edit_of` set carries the new version of that delivery's message, `edited`
  renders it, and the channel's `send` replaces the posted message (`edit_ref`) instead of
  posting a new one.

Channels register in core/channels/registry.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from core.pipeline.emit_config import EmitDraft
    from core.pipeline.emit_write import PreparedEmit
    from core.pipeline.outbox import DeliveryRow


@dataclass
class ClaimedDelivery:
    """A delivery the worker holds a lease on, detached from any database session.

    Its fields are the `delivery` columns the claim returns (core/pipeline/outbox.py reads
    them by these names), then what the pipeline adds."""

    id: int
    tenant_id: int | None
    event: str
    channel: str
    target: str
    mail_server_id: int | None
    attempts: int
    sender: str
    pending: list[str]
    results: dict[str, Any]
    created_at: datetime
    # A digest: rendered when its window closes (core/pipeline/digest_close.py), then sent as
    # any delivery; on Slack it goes under its burst's first alert.
    is_digest: bool = False
    # An edit: the delivery whose posted message this one replaces (core/pipeline/alert_edits.py).
    edit_of: int | None = None
    content: bytes = b""  # still encrypted: the channel decrypts just before sending
    # Set by the pipeline: post as a reply under this message (core/pipeline/bursts.py).
    thread_under: str | None = None
    # Set by the pipeline for an edit whose message is posted: the channel's reference of that
    # message (Slack's ts), to replace it. None: the message never got posted; post this one.
    edit_ref: str | None = None


@dataclass
class ChannelResult:
    """What the channel managed: per-recipient refusals with their reply codes."""

    accepted: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    reply: str | None = None
    message_ref: str | None = None  # the channel's id of the message posted (Slack's ts)


class Channel:
    """Send one delivery. Raise RetryableError or PermanentError (core.errors); nothing else."""

    name: ClassVar[str] = ""
    threads_bursts: ClassVar[bool] = False

    def prepare(self, batch: Sequence[ClaimedDelivery]) -> None:
        """Load what the sends of `batch` (this channel's claimed deliveries) need; runs on
        the worker's database thread."""

    def rate_limit(self, delivery: ClaimedDelivery) -> int:
        """Sends per minute allowed where `delivery` goes, across workers (0: no limit); the
        limit is keyed by the delivery's mail server (core/pipeline/shared_limit.py)."""
        return 0

    def reserve_slot(self, target: str, max_wait: float) -> float:
        """Seconds to wait for a send slot to `target` (0: now); minus the wait, taking
        nothing, when that is more than `max_wait`."""
        return 0.0

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections; the channel may be used again afterwards (they reopen)."""


@dataclass(frozen=True, slots=True)
class StatusNote:
    """What became of a mirrored alert since it was posted: the line an edit adds to it.

    `kind`: `delivered` (its email went after `attempts` tries), `partial` or `failed` (its
    email reached some or none of its recipients for good; `reason` says why), `recovered`
    (its health subject is no longer bad; `state` is the state now: ok, or unknown)."""

    kind: str
    at: datetime
    attempts: int = 0
    reason: str | None = None
    state: str | None = None
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class HeldItem:
    """One event folded into a digest: when it happened and its payload as shown (secrets
    redacted)."""

    delivery_id: int
    event_id: int
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class DigestDraft:
    """A digest whose window has closed, as its channel's renderer sees it.

    `items` are the held events in order (at most DIGEST_ITEMS_MAX; `total` counts them all);
    `target`, `mail_server_id` and `sender` are the digest delivery's own (the burst's target,
    the server its single messages went through)."""

    session: Any  # the worker's database session, inside the closing transaction
    box: Any  # SecretBox: the message returned is encrypted with it
    tenant: Any  # Tenant | None
    event: str
    channel: str
    target: str
    delivery_id: int
    mail_server_id: int | None
    items: Sequence[HeldItem]
    total: int
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """A closed digest's message, encrypted, and its Message-ID when the channel has one (the
    delivery log shows it as it does for single messages)."""

    content: bytes
    message_id: str | None = None


class Renderer:
    """What an event makes on one channel, at emit time."""

    name: ClassVar[str] = ""
    # Bursts of one event on this channel fold into digests past the owner's policy.
    digests: ClassVar[bool] = False

    def rows(self, draft: EmitDraft) -> list[DeliveryRow]:
        """The deliveries of the event on this channel (none when it is not routed here)."""
        raise NotImplementedError

    def message(
        self, prepared: PreparedEmit, row: DeliveryRow, delivery_id: int, at: datetime
    ) -> bytes | None:
        """The encrypted message of `row`, now that its id is known; None keeps `row.content`
        (rendered by `rows`)."""
        return None

    def digest(self, draft: DigestDraft) -> DigestMessage:
        """The message of a closed digest (channels with `digests` True)."""
        raise NotImplementedError

    # This channel can replace a message it posted (an edit delivery, `edit_of`).
    edits: ClassVar[bool] = False

    def edited(self, box: Any, original: bytes, note: StatusNote) -> bytes:
        """The encrypted new version of `original` (a message of this channel, encrypted with
        `box`) carrying `note` (channels with `edits` True)."""
        raise NotImplementedError
