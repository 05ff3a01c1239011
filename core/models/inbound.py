"""Messages fetched from an email account's IMAP inbox (core.mail.imap, core.services.inbound).

A row is one message of one mailbox incarnation: (account, folder, UIDVALIDITY, UID) is unique.
Only headers, a bounded text snippet, the size and the attachment names are kept; bodies and
attachments stay on the server. A message that could not be parsed is kept as `quarantined`
with the reason, so that the next sync does not fetch it again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

MESSAGE_ID_MAX = 998
HEADER_MAX = 998
SNIPPET_MAX = 500
REASON_MAX = 500


class InboundMessage(SQLModel, table=True):
    __tablename__ = "inbound_message"
    __table_args__ = (
        Index(
            "uq_inbound_message_mailbox_uid",
            "account_id",
            "folder",
            "uidvalidity",
            "uid",
            unique=True,
        ),
        Index("ix_inbound_message_account_message_id", "account_id", "message_id"),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("email_account.id", ondelete="CASCADE"), nullable=False
        )
    )
    folder: str = Field(max_length=255)
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit: BigInteger keeps PostgreSQL from overflowing.
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: str | None = Field(default=None, max_length=MESSAGE_ID_MAX)
    from_addr: str | None = Field(default=None, max_length=HEADER_MAX)
    to_addr: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    subject: str | None = Field(default=None, max_length=HEADER_MAX)
    date: datetime | None = None
    snippet: str = Field(default="", max_length=SNIPPET_MAX)
    size: int = 0
    attachments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    quarantined: bool = False
    quarantine_reason: str | None = Field(default=None, max_length=REASON_MAX)
    fetched_at: datetime = Field(default_factory=utcnow)
