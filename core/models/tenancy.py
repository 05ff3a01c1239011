"""Tenants, the system-wide settings row, each tenant's notification settings, and the models
front ends exchange with the settings service (one family for both scopes, `tenant: Tenant |
None` as for mail servers): `NotificationSettingsUpdate` in, `NotificationSettingsRead` out.

The settings keep the field names of DESIGN §4 ("field names as in the HTTP API": `type`,
`server`, …), which the audit log records too; only the wire details of the PortSIP object
(recipients comma-joined, JSON types, read-only fields) live in `api/portsip.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic import Field as Limit
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core import validation as v
from core.models._common import utcnow
from core.vocabulary import (
    MAX_RECIPIENTS,
    PORT_MAX,
    PORT_MIN,
    RATE_LIMIT_MAX_PER_MINUTE,
    SECRET_MAX_LENGTH,
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    USERNAME_MAX_LENGTH,
    AuthMode,
    Provider,
    SecurityMode,
)


class TenantBase(SQLModel):
    slug: str = Field(max_length=63, unique=True, index=True)
    name: str = Field(max_length=200)


class Tenant(TenantBase, table=True):
    __tablename__ = "tenant"
    # ids are never reused on SQLite (migration 0009)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class SystemSettings(SQLModel, table=True):
    """One row (id 1): "apply mail settings to all tenants" and the system notification settings."""

    __tablename__ = "system_settings"

    id: int = Field(default=1, primary_key=True)
    apply_to_all_tenants: bool = False
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notify_disk_low: bool = True
    notify_license_limited: bool = True
    notify_recharge: bool = True
    notify_emergency_call: bool = True
    notify_trunk_connected: bool = True
    notify_trunk_disconnected: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class NotificationSettings(SQLModel, table=True):
    """A tenant's recipients and its five event toggles (default off)."""

    __tablename__ = "notification_settings"

    tenant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True)
    )
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notify_user_registration: bool = False
    notify_queue_sla_breached: bool = False
    notify_queue_callback: bool = False
    notify_queue_callback_failed: bool = False
    notify_queue_call_lost: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


# -- the settings as front ends see them ------------------------------------------------------

# Setting name → mail server column: the settings name the owner's default server's fields as
# the HTTP API does.
SERVER_SETTING_COLUMNS: Mapping[str, str] = {
    "type": "provider",
    "server": "host",
    "port": "port",
    "reply_to": "reply_to",
    "username": "username",
    "password": "password",
    "auth": "auth",
    "mail_from": "mail_from",
    "security": "security",
    "tls_verify": "tls_verify",
    "ca_file": "ca_file",
    "ca_pem": "ca_pem",
    "timeout": "timeout",
    "rate_limit_per_minute": "rate_limit_per_minute",
}
SETTING_OF_COLUMN: Mapping[str, str] = {c: name for name, c in SERVER_SETTING_COLUMNS.items()}
TLS_FLAGS: tuple[str, ...] = ("enable_tls_ssl", "enable_starttls_auto")
TENANT_SETTINGS: tuple[str, ...] = (
    *SERVER_SETTING_COLUMNS,
    *TLS_FLAGS,
    "recipients",
    *TENANT_TOGGLES,
)
SYSTEM_SETTINGS: tuple[str, ...] = (
    *SERVER_SETTING_COLUMNS,
    *TLS_FLAGS,
    "recipients",
    "apply_to_all_tenants",
    *SYSTEM_TOGGLES,
)
TIMEOUT_MAX_S = 600


def settings_fields(tenant: object | None) -> tuple[str, ...]:
    """The setting names of a tenant (any tenant) or, for None, of the system."""
    return SYSTEM_SETTINGS if tenant is None else TENANT_SETTINGS


def _choice(enum: Any, *, upper: bool) -> Any:
    return v.rule(lambda field, value: v.choice(field, value, enum, upper=upper))


Toggle = Annotated[bool | None, v.rule(v.boolean)]


class NotificationSettingsUpdate(v.InputModel):
    """A partial change of a tenant's or the system's settings: fields left out keep their
    values; an empty optional server field clears it; an absent or empty `password` keeps the
    stored one. Each value is checked by the rule every front end shares (core.validation, the
    same rules as `MailServerUpdate`'s); limits are declared for the JSON Schema as well.

    Build one with `parse(data, system=…)`: a field of the other scope is then refused as
    unknown, naming the scope's fields (the service checks the scope again in any case).
    """

    type: Annotated[Provider | None, _choice(Provider, upper=True)] = None
    server: Annotated[Annotated[str, Limit(max_length=255)] | None, v.rule(v.optional(v.host))] = (
        None
    )
    port: Annotated[Annotated[int, Limit(ge=PORT_MIN, le=PORT_MAX)] | None, v.rule(v.port)] = None
    reply_to: Annotated[str | None, v.rule(v.optional(v.mailbox))] = None
    username: Annotated[
        Annotated[str, Limit(max_length=USERNAME_MAX_LENGTH)] | None,
        v.rule(v.optional(v.text(USERNAME_MAX_LENGTH))),
    ] = None
    password: Annotated[
        Annotated[str, Limit(max_length=SECRET_MAX_LENGTH)] | None, v.rule(v.secret)
    ] = Limit(default=None, repr=False)
    auth: Annotated[AuthMode | None, _choice(AuthMode, upper=True)] = None
    enable_tls_ssl: Toggle = None
    enable_starttls_auto: Toggle = None
    recipients: Annotated[
        Annotated[list[str], Limit(max_length=MAX_RECIPIENTS)] | None,
        v.rule(v.recipients),
    ] = None
    mail_from: Annotated[str | None, v.rule(v.optional(v.mailbox))] = None
    security: Annotated[SecurityMode | None, _choice(SecurityMode, upper=False)] = None
    tls_verify: Toggle = None
    ca_file: Annotated[
        Annotated[str, Limit(max_length=1024)] | None, v.rule(v.optional(v.text(1024)))
    ] = None
    ca_pem: Annotated[
        Annotated[str, Limit(max_length=v.CA_PEM_MAX_BYTES)] | None, v.rule(v.optional(v.ca_pem))
    ] = None
    timeout: Annotated[
        Annotated[float, Limit(gt=0, le=TIMEOUT_MAX_S)] | None, v.rule(v.timeout)
    ] = None
    rate_limit_per_minute: Annotated[
        Annotated[int, Limit(ge=0, le=RATE_LIMIT_MAX_PER_MINUTE)] | None, v.rule(v.rate_limit)
    ] = None
    notify_user_registration: Toggle = None
    notify_queue_sla_breached: Toggle = None
    notify_queue_callback: Toggle = None
    notify_queue_callback_failed: Toggle = None
    notify_queue_call_lost: Toggle = None
    apply_to_all_tenants: Toggle = None
    notify_disk_low: Toggle = None
    notify_license_limited: Toggle = None
    notify_recharge: Toggle = None
    notify_emergency_call: Toggle = None
    notify_trunk_connected: Toggle = None
    notify_trunk_disconnected: Toggle = None

    @model_validator(mode="before")
    @classmethod
    def _known_in_scope(cls, data: Any, info: ValidationInfo) -> Any:
        """Unknown names first, as the services always checked: with the scope's names."""
        system = (info.context or {}).get("system")
        if isinstance(data, Mapping) and system is not None:
            v.known_fields(data, SYSTEM_SETTINGS if system else TENANT_SETTINGS)
        return data

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, system: bool) -> NotificationSettingsUpdate:
        """`data` (a front end's fields) for the system's or a tenant's settings, or
        `core.errors.ValidationError` naming the field and the rule."""
        try:
            return cls.model_validate(dict(data), context={"system": system})
        except PydanticValidationError as exc:
            raise v.from_pydantic(exc, cls) from None

    def server_changes(self) -> dict[str, Any]:
        """The given server fields as mail server columns (the TLS flags not included)."""
        return {
            SERVER_SETTING_COLUMNS[name]: value
            for name, value in self.given().items()
            if name in SERVER_SETTING_COLUMNS
        }


class NotificationSettingsRead(BaseModel):
    """A tenant's (or, `tenant` None, the system's) settings and its default mail server as
    the settings name them; never the password. Server fields are None until a server is
    configured (`configured` False); the TLS flags always agree with `security`."""

    model_config = ConfigDict(frozen=True)

    tenant: str | None
    configured: bool
    type: Provider
    server: str | None
    port: Annotated[int, Limit(ge=PORT_MIN, le=PORT_MAX)] | None
    reply_to: str | None
    username: Annotated[str, Limit(max_length=USERNAME_MAX_LENGTH)] | None
    auth: AuthMode
    enable_tls_ssl: bool
    enable_starttls_auto: bool
    mail_from: str | None
    security: SecurityMode | None
    tls_verify: bool
    ca_file: str | None
    ca_pem: str | None
    timeout: float | None
    rate_limit_per_minute: int | None
    recipients: list[str]
    # The scope's toggles in catalogue order: TENANT_TOGGLES, or SYSTEM_TOGGLES for the system.
    toggles: dict[str, bool]
    # System scope only.
    apply_to_all_tenants: bool | None = None
    # Tenant scope only: which server sends the tenant's mail now (tenant, system or none).
    effective_mail_server: str | None = None
