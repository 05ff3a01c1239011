"""Outbound mail servers and inbound email accounts: the tables and their model families.

Secret columns end in `_enc` and hold Fernet tokens (see core.crypto). `…Create` / `…Update`
are what callers give (each field checked by its rule in core.validation; an Update holds only
the fields given, `given()`); `…Read` is what any front end may show: no Read model carries a
secret, only a `has_…` flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Limit
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from core import validation as v
from core.mail.auth_refusals import paused_until
from core.mail.proxy_url import PROXY_URL_MAX, proxy_rule
from core.models._common import utcnow
from core.vocabulary import (
    PORT_MAX,
    PORT_MIN,
    RATE_LIMIT_MAX_PER_MINUTE,
    SECRET_MAX_LENGTH,
    USERNAME_MAX_LENGTH,
    AuthMode,
    Provider,
    SecurityMode,
)

# The secrets an admin sets on a mail server: its input name → the column that holds it sealed
# with the key ring (the OAuth refresh token is mailbell's own, not an admin's input).
MAIL_SERVER_SECRETS: Final = MappingProxyType(
    {
        "password": "password_enc",
        "proxy_password": "proxy_password_enc",
        "oauth_client_secret": "oauth_client_secret_enc",
    }
)


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
    username: str | None = Field(default=None, max_length=USERNAME_MAX_LENGTH)
    password_enc: str | None = None
    mail_from: str | None = Field(default=None, max_length=320)
    reply_to: str | None = Field(default=None, max_length=320)
    timeout: float = 30.0
    rate_limit_per_minute: int = 0
    tls_verify: bool = True
    ca_file: str | None = Field(default=None, max_length=1024)
    # A CA bundle as PEM text (tenants cannot name host files): public data, not a secret.
    ca_pem: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A proxy the connection goes through (`socks5://host:port`, `http://host:port`), its
    # password apart and encrypted: the URL carries no secret.
    proxy_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    proxy_password_enc: str | None = None
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
    # The provider refused the refresh token (invalid_grant, unauthorized_client, consent
    # revoked): deliveries fail at once until the server is authorized again.
    auth_revoked_at: datetime | None = None
    auth_revoked_reason: str | None = Field(default=None, max_length=1000)
    # When the server last refused these credentials (535), newest last, within the last hour:
    # the same credentials are not tried more than twice an hour. Cleared when they change.
    auth_refusals: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def proxy(self) -> str | None:
        """The proxy URL without its password: the `proxy` the settings and `MailServerRead`
        show (the input `proxy` is applied by core.services.mail_server_fields.apply_proxy)."""
        return self.proxy_url


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
    # Scheduled syncs back off after consecutive failures (sync_next_at), and stop after an
    # authentication failure (sync_stopped_reason) until the credentials change or an admin
    # asks for a sync; login_failures: times of failed logins within the last day.
    sync_failures: int = 0
    sync_next_at: datetime | None = None
    sync_stopped_reason: str | None = Field(default=None, max_length=1000)
    login_failures: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def _choice(enum: Any, *, upper: bool) -> Any:
    return v.rule(lambda field, value: v.choice(field, value, enum, upper=upper))


def _account_text(field: str, value: Any) -> str | None:
    return v.single_line(field, str(value or "").strip(), max_length=255) or None


def _server_id(field: str, value: Any) -> int | None:
    return None if value in (None, "") else v.integer(field, value)


Flag = Annotated[bool | None, v.rule(v.boolean)]
TIMEOUT_MAX_S = 600
Secret = Annotated[str | None, v.rule(v.secret)]


class MailServerUpdate(v.InputModel):
    """Some fields of a mail server (the others keep their values); an empty secret keeps the
    stored one, an empty optional field clears it."""

    name: Annotated[str | None, v.rule(v.required_text(100))] = None
    provider: Annotated[Provider | None, _choice(Provider, upper=True)] = None
    host: Annotated[Annotated[str, Limit(max_length=255)] | None, v.rule(v.optional(v.host))] = None
    port: Annotated[Annotated[int, Limit(ge=PORT_MIN, le=PORT_MAX)] | None, v.rule(v.port)] = None
    security: Annotated[SecurityMode | None, _choice(SecurityMode, upper=False)] = None
    auth: Annotated[AuthMode | None, _choice(AuthMode, upper=True)] = None
    username: Annotated[
        Annotated[str, Limit(max_length=USERNAME_MAX_LENGTH)] | None,
        v.rule(v.optional(v.text(USERNAME_MAX_LENGTH))),
    ] = None
    password: Annotated[
        Annotated[str, Limit(max_length=SECRET_MAX_LENGTH)] | None, v.rule(v.secret)
    ] = Limit(default=None, repr=False)
    mail_from: Annotated[str | None, v.rule(v.optional(v.mailbox))] = None
    reply_to: Annotated[str | None, v.rule(v.optional(v.mailbox))] = None
    timeout: Annotated[
        Annotated[float, Limit(gt=0, le=TIMEOUT_MAX_S)] | None, v.rule(v.timeout)
    ] = None
    rate_limit_per_minute: Annotated[
        Annotated[int, Limit(ge=0, le=RATE_LIMIT_MAX_PER_MINUTE)] | None, v.rule(v.rate_limit)
    ] = None
    tls_verify: Flag = None
    ca_file: Annotated[
        Annotated[str, Limit(max_length=1024)] | None, v.rule(v.optional(v.text(1024)))
    ] = None
    ca_pem: Annotated[
        Annotated[str, Limit(max_length=v.CA_PEM_MAX_BYTES)] | None, v.rule(v.optional(v.ca_pem))
    ] = None
    # `socks5://[user:pass@]host:port`, `socks5h://…` or `http://…`; the password is taken out
    # and encrypted (kept while the URL is unchanged); empty clears the proxy.
    proxy: Annotated[
        Annotated[str, Limit(max_length=PROXY_URL_MAX)] | None, v.rule(v.optional(proxy_rule))
    ] = Limit(default=None, repr=False)
    proxy_password: Annotated[
        Annotated[str, Limit(max_length=SECRET_MAX_LENGTH)] | None, v.rule(v.secret)
    ] = Limit(default=None, repr=False)
    oauth_client_id: Annotated[str | None, v.rule(v.optional(v.text(255)))] = None
    oauth_client_secret: Secret = None
    oauth_directory_id: Annotated[str | None, v.rule(v.optional(v.text(255)))] = None
    is_default: Flag = None


class MailServerCreate(MailServerUpdate):
    """A new mail server: a name, and what the provider's preset does not fill."""

    required_hints: ClassVar = {"name": "is required: a friendly label such as 'Production SMTP'"}

    name: Annotated[str, v.rule(v.required_text(100))]


class MailServerRead(BaseModel):
    """A mail server as any front end shows it: the secrets are flags."""

    model_config = ConfigDict(from_attributes=True, use_enum_values=True)

    id: int
    name: str
    provider: Provider
    host: str | None
    port: Annotated[int, Limit(ge=PORT_MIN, le=PORT_MAX)]
    security: SecurityMode
    auth: AuthMode
    username: Annotated[str, Limit(max_length=USERNAME_MAX_LENGTH)] | None
    has_password: bool
    mail_from: str | None
    reply_to: str | None
    timeout: float
    rate_limit_per_minute: int
    tls_verify: bool
    ca_file: str | None
    ca_pem: str | None
    # The proxy URL without its password.
    proxy: str | None = None
    has_proxy_password: bool = False
    oauth_client_id: str | None
    has_oauth_client_secret: bool
    oauth_directory_id: str | None
    oauth_authorized: bool
    default: bool
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_message: str | None
    # Read-only. XOAUTH2 servers: "authorized" (tokens or app-only credentials), "revoked" (the
    # provider refused the grant: deliveries fail until it is authorized again) or
    # "not_authorized"; None for other auth modes.
    authorization: Literal["authorized", "revoked", "not_authorized"] | None = None
    auth_revoked_at: datetime | None = None
    auth_revoked_reason: str | None = None
    # The server refused these credentials twice within the hour: not tried before then.
    credentials_paused_until: datetime | None = None

    @classmethod
    def of(cls, server: MailServer, *, now: datetime | None = None) -> MailServerRead:
        return cls.model_validate(
            {
                **server.model_dump(exclude=set(MAIL_SERVER_SECRETS.values())),
                "has_password": server.password_enc is not None,
                "proxy": server.proxy_url,
                "has_proxy_password": server.proxy_password_enc is not None,
                "has_oauth_client_secret": server.oauth_client_secret_enc is not None,
                "oauth_authorized": server.oauth_refresh_token_enc is not None,
                "default": server.is_default,
                "authorization": _authorization(server),
                "credentials_paused_until": paused_until(
                    server.auth_refusals or [], now or utcnow()
                ),
            }
        )

    @property
    def auth_problem(self) -> str | None:
        """One line for every front end when the server cannot log in, with what to do."""
        if self.authorization == "revoked":
            return (
                f"authorization revoked — re-authorize: mailbell oauth authorize --server {self.id}"
            )
        if self.credentials_paused_until is not None:
            return (
                "credentials refused — tried again at "
                f"{self.credentials_paused_until:%Y-%m-%d %H:%M} UTC or when changed: "
                f"mailbell server edit {self.id} --password …"
            )
        return None


def _authorization(server: MailServer) -> str | None:
    if server.auth != AuthMode.XOAUTH2:
        return None
    if server.auth_revoked_at is not None:
        return "revoked"
    app_only = (
        server.provider == Provider.MS365
        and server.oauth_client_secret_enc is not None
        and bool(server.oauth_directory_id)
    )
    if server.oauth_refresh_token_enc is not None or app_only:
        return "authorized"
    return "not_authorized"


# -- the notification settings' view of the owner's default server -----------------------------
# The settings (core.models.tenancy: the HTTP API's flat object) show every field of
# `MailServerUpdate` except those below, derived from this family: a field added here is a
# setting too, placed after the ones the object always had (whose names and order clients see).

NOT_SETTINGS = frozenset(
    {"name", "is_default", "oauth_client_id", "oauth_client_secret", "oauth_directory_id"}
)
SETTING_NAMES: Mapping[str, str] = {"provider": "type", "host": "server"}
SETTINGS_ORDER = ("provider", "host", "port", "reply_to", "username", "password", "auth",
                  "mail_from", "security", "tls_verify", "ca_file", "ca_pem", "timeout",
                  "rate_limit_per_minute")  # fmt: skip
# What the settings show while the owner has no server (the reference API's defaults); None else.
UNCONFIGURED: Mapping[str, Any] = {
    "provider": Provider.SMTP,
    "auth": AuthMode.AUTO,
    "tls_verify": True,
}


def setting_columns() -> dict[str, str]:
    """Setting name → mail server field, in the settings' order."""
    later = [
        name
        for name in MailServerUpdate.model_fields
        if name not in NOT_SETTINGS and name not in SETTINGS_ORDER
    ]
    return {SETTING_NAMES.get(column, column): column for column in (*SETTINGS_ORDER, *later)}


class EmailAccountUpdate(v.InputModel):
    """Some fields of an email account; an empty IMAP password keeps the stored one."""

    email: Annotated[str | None, v.rule(v.email_address)] = None
    display_name: Annotated[
        str | None, v.rule(v.required_text(200, ": a label such as 'Support Inbox'"))
    ] = None
    mail_server_id: Annotated[int | None, v.rule(_server_id)] = None
    is_default: Flag = None
    imap_host: Annotated[str | None, v.rule(_account_text)] = None
    imap_port: Annotated[int | None, v.rule(v.port)] = None
    imap_username: Annotated[str | None, v.rule(_account_text)] = None
    imap_password: Secret = None
    imap_tls: Flag = None
    imap_folder: Annotated[str | None, v.rule(_account_text)] = None


class EmailAccountCreate(EmailAccountUpdate):
    """A new email account: its address and label (the service checks its mail server)."""

    email: Annotated[str, v.rule(v.email_address)]
    display_name: Annotated[str, v.rule(v.required_text(200, ": a label such as 'Support Inbox'"))]


class EmailAccountRead(BaseModel):
    """An email account as any front end shows it, with its sync health; no password."""

    id: int
    email: str
    display_name: str
    mail_server_id: int | None
    default: bool
    imap_host: str | None
    imap_port: int
    imap_username: str | None
    has_imap_password: bool
    imap_tls: bool
    imap_folder: str | None
    last_sync_at: datetime | None
    message_count: int
    last_error: str | None
    # off (no IMAP host), never (not synced yet), ok, retrying (backing off after failures),
    # stopped (a refused login: until the credentials change or an admin syncs now)
    sync_state: Literal["off", "never", "ok", "retrying", "stopped"]
    sync_failures: int
    sync_stopped_reason: str | None
    next_sync_at: datetime | None

    @classmethod
    def of(cls, account: EmailAccount) -> EmailAccountRead:
        return cls.model_validate(
            {
                **account.model_dump(exclude={"imap_password_enc", "login_failures"}),
                "default": account.is_default,
                "has_imap_password": account.imap_password_enc is not None,
                "last_error": account.last_sync_error,
                "sync_state": _sync_state(account),
                "next_sync_at": account.sync_next_at,
            }
        )


def _sync_state(account: EmailAccount) -> str:
    if not account.imap_host:
        return "off"
    if account.sync_stopped_reason:
        return "stopped"
    if account.sync_failures:
        return "retrying"
    return "ok" if account.last_sync_at is not None else "never"
