"""Slack: channels linked to tenants, the events each channel mirrors, and Slack admins.

A channel (team + channel id) is linked to one tenant; its routes name the events it mirrors
(`*`: every tenant event), its inbox routes the email accounts (of that tenant) whose synced
messages it mirrors. Tenant admins may act in channels linked to their tenant; system
admins (besides `MAILBELL_SLACK_ADMINS`) everywhere. An empty `team_id` on an admin row means
"any workspace" (admins added by the CLI, which knows no team).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

ALL_EVENTS = "*"
SLACK_ID_MAX = 64
FROM_PATTERN_MAX = 200


class SlackChannelLink(SQLModel, table=True):
    __tablename__ = "slack_channel_link"
    __table_args__ = (
        Index("uq_slack_channel_link", "team_id", "channel_id", unique=True),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=SLACK_ID_MAX)
    channel_id: str = Field(max_length=SLACK_ID_MAX)
    tenant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(default_factory=utcnow)
    # The result of the last post into this channel: None when it went through, else Slack's
    # error code (not_in_channel, channel_not_found, invalid_auth, account_inactive, …).
    last_post_at: datetime | None = None
    last_post_error: str | None = Field(default=None, max_length=100)


class SlackRoute(SQLModel, table=True):
    """One event (or `*`) mirrored into one linked channel."""

    __tablename__ = "slack_route"
    __table_args__ = (
        Index("uq_slack_route", "link_id", "event", unique=True),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("slack_channel_link.id", ondelete="CASCADE"), nullable=False
        )
    )
    event: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class SlackInboxRoute(SQLModel, table=True):
    """New messages of one email account, from senders matching `from_pattern`, mirrored into
    one linked channel. `from_pattern` is a lowercase shell-style glob on the sender address;
    empty means every sender."""

    __tablename__ = "slack_inbox_route"
    __table_args__ = (
        Index("uq_slack_inbox_route", "link_id", "account_id", "from_pattern", unique=True),
        Index("ix_slack_inbox_route_account", "account_id"),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("slack_channel_link.id", ondelete="CASCADE"), nullable=False
        )
    )
    account_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("email_account.id", ondelete="CASCADE"), nullable=False
        )
    )
    from_pattern: str = Field(default="", max_length=FROM_PATTERN_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class SlackTenantAdmin(SQLModel, table=True):
    __tablename__ = "slack_tenant_admin"
    __table_args__ = (
        Index("uq_slack_tenant_admin", "tenant_id", "team_id", "user_id", unique=True),
        Index("ix_slack_tenant_admin_user", "user_id"),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False)
    )
    team_id: str = Field(default="", max_length=SLACK_ID_MAX)
    user_id: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class SlackSystemAdmin(SQLModel, table=True):
    """System admins added with `mailbell slack admin add USER_ID` (or by another system admin)."""

    __tablename__ = "slack_system_admin"
    __table_args__ = (
        Index("uq_slack_system_admin", "team_id", "user_id", unique=True),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(default="", max_length=SLACK_ID_MAX)
    user_id: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class SlackRequestSeen(SQLModel, table=True):
    """A signed HTTP request already accepted: its signature (hex HMAC of timestamp and body,
    unique per request) and its timestamp, kept while the timestamp is still inside the
    5-minute window, so that the same request sent again is refused (replay)."""

    __tablename__ = "slack_request_seen"

    signature: str = Field(primary_key=True, max_length=64)
    timestamp: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
