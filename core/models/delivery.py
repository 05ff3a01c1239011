"""The outbox: one `EventRecord` per emitted event, one `Delivery` per channel target.

A delivery carries everything needed to send it (the envelope, and in `DeliveryContent` the
rendered message), so a later template or settings change does not alter what is queued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

from core.models._common import utcnow
from core.vocabulary import Channel, DeliveryStatus

STATUSES: tuple[str, ...] = tuple(status.value for status in DeliveryStatus)
# The registered channels (core/channels/registry.py).
CHANNELS: tuple[str, ...] = tuple(channel.value for channel in Channel)


class EventRecord(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        Index(
            "uq_event_tenant_key",
            "tenant_id",
            "key",
            unique=True,
            sqlite_where=text("key IS NOT NULL AND tenant_id IS NOT NULL"),
            postgresql_where=text("key IS NOT NULL AND tenant_id IS NOT NULL"),
        ),
        Index(
            "uq_event_system_key",
            "key",
            unique=True,
            sqlite_where=text("key IS NOT NULL AND tenant_id IS NULL"),
            postgresql_where=text("key IS NOT NULL AND tenant_id IS NULL"),
        ),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    name: str = Field(max_length=32)
    key: str | None = Field(default=None, max_length=200)
    # For display: secrets (a new user's password) redacted.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The whole payload, encrypted: what a re-render on retry needs.
    payload_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"
    __table_args__ = (
        # The worker's claim: due rows by time. A lease's expiry is stored in next_attempt_at,
        # so rows of a killed worker come due through the same index.
        Index("ix_delivery_due", "status", "next_attempt_at"),
        # Per tenant by time; the status makes the 24 h counts by status (Overview, Slack
        # Home) an index-only read (migration 0019).
        Index("ix_delivery_tenant_created", "tenant_id", "created_at", "status"),
        # Deleting an event (retention, tenant deletion) looks up its deliveries by this.
        Index("ix_delivery_event", "event_id"),
        # A tenant's log newest first, a page below the last id (migration 0022).
        Index("ix_delivery_tenant_id", "tenant_id", "id"),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    tenant_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"))
    )
    event: str = Field(max_length=32)
    channel: str = Field(default="email", max_length=8)
    target: str = Field(default="", sa_column=Column(Text, nullable=False))
    mail_server_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("mail_server.id", ondelete="SET NULL")),
    )
    status: str = Field(default=DeliveryStatus.QUEUED, max_length=12)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sender: str = Field(default="", max_length=320)
    # Recipients still to be sent to; per-recipient outcomes in `results`.
    pending: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    results: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    message_id: str | None = Field(default=None, max_length=998)
    reply: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # A digest: its message lists the held deliveries that name it, rendered when its window
    # closes (core/pipeline/digests.py).
    is_digest: bool = False
    # A held delivery's digest. Plain ids, no foreign key: retention prunes a digest and its
    # held deliveries (a copy and its original) in any order; a pruned one reads as gone.
    digest_id: int | None = Field(default=None, index=True)
    # A re-sent copy's original (`deliveries resend`).
    resent_from: int | None = None
    # An edit (core/pipeline/alert_edits.py): the delivery of the same event whose posted
    # message this one replaces (Slack's chat.update). A plain id, like `digest_id`.
    edit_of: int | None = None


class DigestBurst(SQLModel, table=True):
    """One owner's burst of one event on one channel target: the window open now, how many of
    its events went one by one, and the digest that collects the rest while it is open.

    `burst_key` is `TENANT|EVENT|CHANNEL|TARGET-HASH` (0 for the system): one row per burst
    source, which emit locks (PostgreSQL) or updates in place (SQLite) so two processes never
    open two digests for one window.
    """

    __tablename__ = "digest_burst"
    __table_args__ = (Index("ix_digest_burst_closes", "closes_at"),)

    burst_key: str = Field(primary_key=True, max_length=120)
    tenant_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"))
    )
    event: str = Field(max_length=32)
    channel: str = Field(max_length=8)
    opened_at: datetime = Field(default_factory=utcnow)
    closes_at: datetime = Field(default_factory=utcnow)
    singles: int = 0
    # The open digest of this window (None: none yet, or closed and queued to send).
    digest_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("delivery.id", ondelete="SET NULL")),
    )
    # Whether the window that closed last held events: the burst goes on into the next one.
    held_last_window: bool = False


class DeliveryContent(SQLModel, table=True):
    """A delivery's message, encrypted: the MIME bytes of an email, the blocks of a Slack alert.

    Apart from `delivery` because the worker updates that row at every claim and record, and
    SQLite rewrites a whole row on UPDATE: a 7 KB message rewritten twice per send cost the
    worker more than a fifth of its throughput (bench/pipeline.py (b)). Written once by emit,
    read by the claim; a delivery without a message (suppressed, failed before rendering)
    has no row here.
    """

    __tablename__ = "delivery_content"

    delivery_id: int = Field(
        sa_column=Column(Integer, ForeignKey("delivery.id", ondelete="CASCADE"), primary_key=True)
    )
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SendSlot(SQLModel, table=True):
    """One send to a rate-limited server, kept for the length of the rate window."""

    __tablename__ = "send_slot"
    __table_args__ = (Index("ix_send_slot_server_at", "mail_server_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    mail_server_id: int = Field(
        sa_column=Column(Integer, ForeignKey("mail_server.id", ondelete="CASCADE"), nullable=False)
    )
    at: datetime = Field(default_factory=utcnow)


class DeliveryAttempt(SQLModel, table=True):
    """One try at sending a delivery: what the server answered, kept for the delivery log."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (
        Index("ix_delivery_attempt_delivery", "delivery_id", "id"),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(Integer, ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False)
    )
    at: datetime = Field(default_factory=utcnow)
    outcome: str = Field(max_length=12)  # sent, partial, retry or failed
    # The server's reply or the failing step, secrets never included.
    detail: str | None = Field(default=None, sa_column=Column(Text))
    worker: str | None = Field(default=None, max_length=100)
