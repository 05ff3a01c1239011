"""Outbound mail servers and inbound email accounts.

Secret columns end in `_enc` and hold Fernet tokens (see core.crypto); no Public model carries them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

PROVIDERS = ("SMTP", "GMAIL", "MS365", "SENDGRID")
SECURITY_MODES = ("none", "starttls-auto", "starttls", "tls")
AUTH_MODES = ("DISABLE", "AUTO", "LOGIN", "PLAIN", "XOAUTH2")


class MailServer(SQLModel, table=True):
    __tablename__ = "mail_server"
    __table_args__ = (
        # One default per owner: one index for tenant owners, one for the system (tenant NULL).
        Index(
            "uq_mail_server_tenant_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default AND tenant_id IS NOT NULL"),
            postgresql_where=text("is_default AND tenant_id IS NOT NULL"),
        ),
        Index(
            "uq_mail_server_system_default",
            "is_default",
            unique=True,
            sqlite_where=text("is_default AND tenant_id IS NULL"),
            postgresql_where=text("is_default AND tenant_id IS NULL"),
        ),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    name: str = Field(max_length=100)
    provider: str = Field(default="SMTP", max_length=16)
    host: str = Field(default="", max_length=255)
    port: int = 587
    security: str = Field(default="starttls", max_length=16)
    auth: str = Field(default="AUTO", max_length=16)
    username: str | None = Field(default=None, max_length=128)
    password_enc: str | None = None
    mail_from: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    timeout: float = 30.0
    rate_limit_per_minute: int = 0
    tls_verify: bool = True
    ca_file: str | None = Field(default=None, max_length=1024)
    # A CA bundle as PEM text (tenants cannot name host files): public data, not a secret.
    ca_pem: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The host was last set by a tenant-scoped actor: checked against
    # MAILBELL_TENANT_SMTP_NETWORKS again at every connection (core/netfence.py).
    fenced: bool = False
    oauth_client_id: str | None = Field(default=None, max_length=255)
    oauth_client_secret_enc: str | None = None
    oauth_directory_id: str | None = Field(default=None, max_length=255)
    oauth_refresh_token_enc: str | None = None
    oauth_access_token_enc: str | None = None
    oauth_token_expires_at: datetime | None = None
    is_default: bool = False
    last_test_at: datetime | None = None
    last_test_ok: bool | None = None
    last_test_message: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class EmailAccount(SQLModel, table=True):
    __tablename__ = "email_account"
    __table_args__ = (
        Index("uq_email_account_tenant_email", "tenant_id", "email", unique=True),
        Index(
            "uq_email_account_tenant_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    email: str = Field(max_length=320)
    display_name: str = Field(max_length=200)
    mail_server_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("mail_server.id", ondelete="SET NULL"), index=True),
    )
    is_default: bool = False
    imap_host: str | None = Field(default=None, max_length=255)
    imap_port: int = 993
    imap_username: str | None = Field(default=None, max_length=320)
    imap_password_enc: str | None = None
    imap_tls: bool = True
    imap_folder: str = Field(default="INBOX", max_length=255)
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit: wider than a signed INTEGER.
    imap_uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger))
    imap_last_uid: int | None = Field(default=None, sa_column=Column(BigInteger))
    # One sync per account across processes: the worker holding the lease syncs it.
    sync_lease_owner: str | None = Field(default=None, max_length=100)
    sync_lease_until: datetime | None = None
    last_sync_at: datetime | None = None
    last_sync_error: str | None = Field(default=None, max_length=1000)
    message_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
