"""Tenants, the system-wide settings row, each tenant's notification settings, and the models
front ends exchange with the settings service (one family for both scopes, `tenant: Tenant |
None` as for mail servers): `NotificationSettingsUpdate` in, `NotificationSettingsRead` out.

The settings keep the field names of DESIGN §4 ("field names as in the HTTP API": `type`,
`server`, …), which the audit log records too; only the wire details of the PortSIP object
(recipients comma-joined, JSON types, read-only fields) live in `api/portsip.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationInfo, create_model, model_validator
from pydantic import Field as Limit
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core import validation as v
from core.digest_policy import event_of_setting, parse_policy
from core.digest_policy import setting_names as digest_setting_names
from core.locality import Locality, check_locale, check_timezone
from core.models._common import utcnow
from core.models.mail import (
    UNCONFIGURED,
    MailServerRead,
    MailServerUpdate,
    setting_columns,
)
from core.vocabulary import (
    DEFAULT_LOCALE,
    DEFAULT_TIMEZONE,
    LOCALE_MAX_LENGTH,
    MAX_RECIPIENTS,
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    TIMEZONE_MAX_LENGTH,
    RecipientMode,
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
    notify_mail_health: bool = True
    recipient_mode: str = Field(default=RecipientMode.TO, max_length=12)
    # Event name → "AFTER/WINDOW_S" or "off"; an event not listed has the default policy.
    digests: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Where mail reads (core/locality.py): every tenant that sets neither follows these.
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=TIMEZONE_MAX_LENGTH)
    locale: str = Field(default=DEFAULT_LOCALE, max_length=LOCALE_MAX_LENGTH)

    def locality(self) -> Locality:
        """Where the system's mail reads, and every tenant's that set neither value."""
        return Locality(self.timezone, self.locale)

    # A secret sealed with the key ring, which the health watch opens to prove the ring still
    # opens what is stored (core/health).
    key_canary_enc: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class NotificationSettings(SQLModel, table=True):
    """A tenant's recipients and its event toggles: the reference's five (default off) and
    mailbell's health alerts (default on)."""

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
    # mailbell's own mail path is broken: on by default (goes out once recipients exist).
    notify_mail_health: bool = True
    recipient_mode: str = Field(default=RecipientMode.TO, max_length=12)
    # Send through the system's server although the tenant has servers of its own (while the
    # system applies its settings to all tenants).
    use_system_server: bool = False
    # Event name → "AFTER/WINDOW_S" or "off"; an event not listed has the default policy.
    digests: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # None: the system's (core/locality.py).
    timezone: str | None = Field(default=None, max_length=TIMEZONE_MAX_LENGTH)
    locale: str | None = Field(default=None, max_length=LOCALE_MAX_LENGTH)
    updated_at: datetime = Field(default_factory=utcnow)

    def locality(self, system: Locality) -> Locality:
        """Where the tenant's mail reads: its own values, else the system's."""
        return Locality.of(self.timezone, self.locale, inherit=system)


# -- the settings as front ends see them ------------------------------------------------------

# Setting name → mail server column: the settings name the owner's default server's fields as
# the HTTP API does. Derived from the mail server family (core.models.mail), as are the server
# fields of the two settings models below: a field added there is a setting with no edit here.
SERVER_SETTING_COLUMNS: Mapping[str, str] = setting_columns()
SETTING_OF_COLUMN: Mapping[str, str] = {c: name for name, c in SERVER_SETTING_COLUMNS.items()}
TLS_FLAGS: tuple[str, ...] = ("enable_tls_ssl", "enable_starttls_auto")
TENANT_SETTINGS: tuple[str, ...] = (
    *SERVER_SETTING_COLUMNS,
    *TLS_FLAGS,
    "recipients",
    *TENANT_TOGGLES,
    "recipient_mode",
    "use_system_server",
    *digest_setting_names(system=False),
    "timezone",
    "locale",
)
SYSTEM_SETTINGS: tuple[str, ...] = (
    *SERVER_SETTING_COLUMNS,
    *TLS_FLAGS,
    "recipients",
    "apply_to_all_tenants",
    *SYSTEM_TOGGLES,
    "recipient_mode",
    *digest_setting_names(system=True),
    "timezone",
    "locale",
)
# Settings of the owner's row that are neither toggles nor server fields (both scopes).
DELIVERY_SETTINGS: tuple[str, ...] = ("recipient_mode", "use_system_server")
# The owner's time zone and locale; a tenant's empty value follows the system's.
LOCALITY_SETTINGS: tuple[str, ...] = ("timezone", "locale")


def settings_fields(tenant: object | None) -> tuple[str, ...]:
    """The setting names of a tenant (any tenant) or, for None, of the system."""
    return SYSTEM_SETTINGS if tenant is None else TENANT_SETTINGS


def _choice(enum: Any, *, upper: bool) -> Any:
    return v.rule(lambda field, value: v.choice(field, value, enum, upper=upper))


Toggle = Annotated[bool | None, v.rule(v.boolean)]


def _digest_rule(field: str, value: Any) -> str:
    return parse_policy(field, value).stored()


DigestSetting = Annotated[str | None, v.rule(_digest_rule)]


def _update_fields() -> dict[str, Any]:
    """The settings' fields in the order they are checked: the server's (from `MailServerUpdate`,
    each with its rule and limits, the TLS flags and recipients after `auth`), then the toggles."""
    fields: dict[str, Any] = {}
    for name, column in SERVER_SETTING_COLUMNS.items():
        fields[name] = _same_field(MailServerUpdate, column)
        if column == "auth":
            fields |= dict.fromkeys(TLS_FLAGS, (Toggle, None))
            fields["recipients"] = (Recipients, None)
    for name in (*TENANT_TOGGLES, "apply_to_all_tenants", *SYSTEM_TOGGLES):
        fields[name] = (Toggle, None)
    fields["recipient_mode"] = (Annotated[str | None, _choice(RecipientMode, upper=False)], None)
    fields["use_system_server"] = (Toggle, None)
    for name in (*digest_setting_names(system=False), *digest_setting_names(system=True)):
        fields[name] = (DigestSetting, None)
    fields["timezone"] = (Annotated[str | None, v.rule(_optional(check_timezone))], None)
    fields["locale"] = (Annotated[str | None, v.rule(_optional(check_locale))], None)
    return fields


def _optional(check: Any) -> Any:
    """`check`, with "" meaning "unset" (a tenant then follows the system's value)."""

    def rule(field: str, value: Any) -> str:
        if isinstance(value, str) and not value.strip():
            return ""
        result: str = check(field, value)
        return result

    return rule


def _same_field(model: type[BaseModel], column: str) -> tuple[Any, FieldInfo]:
    info = model.model_fields[column]
    return info.annotation, copy(info)


Recipients = Annotated[
    Annotated[list[str], Limit(max_length=MAX_RECIPIENTS)] | None, v.rule(v.recipients)
]
if TYPE_CHECKING:

    class _SettingsUpdateFields(v.InputModel):
        # The type checker does not see the fields built from the mail server model: it takes
        # any keyword (the model refuses unknown names when it runs).
        model_config = ConfigDict(extra="allow")

else:
    _SettingsUpdateFields = create_model(
        "NotificationSettingsUpdate", __base__=v.InputModel, **_update_fields()
    )


class NotificationSettingsUpdate(_SettingsUpdateFields):
    """A partial change of a tenant's or the system's settings: fields left out keep their
    values; an empty optional server field clears it; an absent or empty `password` keeps the
    stored one. Each value is checked by the rule every front end shares (core.validation, the
    same rules as `MailServerUpdate`'s); limits are declared for the JSON Schema as well.

    Build one with `parse(data, system=…)`: a field of the other scope is then refused as
    unknown, naming the scope's fields (the service checks the scope again in any case).
    """

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

    def digest_changes(self) -> dict[str, str]:
        """The given digest policies: event name → stored policy (`3/600`, `off`)."""
        changes = {}
        for name, value in self.given().items():
            event = event_of_setting(name)
            if event is not None and value is not None:
                changes[event] = value
        return changes

    def server_changes(self) -> dict[str, Any]:
        """The given server fields as mail server columns (the TLS flags not included)."""
        return {
            SERVER_SETTING_COLUMNS[name]: value
            for name, value in self.given().items()
            if name in SERVER_SETTING_COLUMNS
        }


class _SettingsHead(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str | None
    configured: bool


def _read_fields() -> dict[str, Any]:
    """The server's fields as `MailServerRead` types them (secrets only flagged there: not
    shown), None while no server is configured unless `UNCONFIGURED` says otherwise; the TLS
    flags after `auth`."""
    fields: dict[str, Any] = {}
    for name, column in SERVER_SETTING_COLUMNS.items():
        if column not in MailServerRead.model_fields:
            continue
        info = MailServerRead.model_fields[column]
        shown: Any = (
            Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        )
        fields[name] = (shown if column in UNCONFIGURED else Optional[shown], ...)  # noqa: UP045
        if column == "auth":
            fields |= dict.fromkeys(TLS_FLAGS, (bool, ...))
    return fields


if TYPE_CHECKING:
    _SettingsReadFields = _SettingsHead
else:
    _SettingsReadFields = create_model(
        "NotificationSettingsRead", __base__=_SettingsHead, **_read_fields()
    )
# The server's fields as the settings show them, in their order (the wire's, api/portsip.py).
SERVER_VIEW: tuple[str, ...] = tuple(_SettingsReadFields.model_fields)[2:]


class NotificationSettingsRead(_SettingsReadFields):
    """A tenant's (or, `tenant` None, the system's) settings and its default mail server as
    the settings name them; never the password. Server fields are None until a server is
    configured (`configured` False); the TLS flags always agree with `security`."""

    recipients: list[str]
    # The scope's toggles in catalogue order: TENANT_TOGGLES, or SYSTEM_TOGGLES for the system.
    toggles: dict[str, bool]
    # System scope only.
    apply_to_all_tenants: bool | None = None
    # Tenant scope only: which server sends the tenant's mail now (tenant, system or none).
    effective_mail_server: str | None = None
    # Tenant scope only, while `use_system_server` is on: what the switch does, or why it
    # cannot (core.services.mail_servers.choose_source). Banners show it; not on the wire.
    effective_mail_server_note: str | None = None
    recipient_mode: str = RecipientMode.TO
    # Tenant scope only: mail goes through the system's server though the tenant has its own.
    use_system_server: bool | None = None
    # Each digest event of the scope → its policy as shown (`3/10m`, `off`), defaults included.
    digests: dict[str, str] = {}
    # The owner's own time zone and locale; a tenant's None follows the system's.
    timezone: str | None = None
    locale: str | None = None
    # What its mail reads in: its own values, else the system's.
    effective_timezone: str = DEFAULT_TIMEZONE
    effective_locale: str = DEFAULT_LOCALE
