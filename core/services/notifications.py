"""Notification settings as one flat object, in the field names of the PortSIP API.

A tenant's object combines its recipients, its five toggles and its default mail server; the
system's combines "apply to all tenants", the system recipients and toggles, and the system
default server. Updates are partial and all-or-nothing: one broken rule and nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from core import validation as v
from core.crypto import SecretBox
from core.errors import ValidationError
from core.models._common import utcnow
from core.models.mail import MailServer
from core.models.tenancy import (
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    NotificationSettings,
    SystemSettings,
    Tenant,
)
from core.services.audit import Actor, record
from core.services.mail_server_fields import SystemOnlyField, clean_server_fields
from core.services.mail_servers import (
    apply_server_changes,
    check_actor_rights,
    check_complete,
    create_mail_server,
    default_mail_server,
    fence_host,
    resolve_effective_server,
)

# API field → mail server column (and back, for error messages).
SERVER_FIELD_MAP = {
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
API_NAME = {column: api for api, column in SERVER_FIELD_MAP.items()}
TLS_FLAGS = ("enable_tls_ssl", "enable_starttls_auto")
DEFAULT_SERVER_NAME = "default"


def security_from_flags(enable_tls_ssl: bool, enable_starttls_auto: bool, port: int) -> str:
    """The PortSIP flags as a security mode (DESIGN §4, mapping of the TLS flags)."""
    if enable_tls_ssl:
        return "tls" if port == 465 else "starttls"
    return "starttls-auto" if enable_starttls_auto else "none"


def flags_from_security(security: str) -> tuple[bool, bool]:
    return {
        "tls": (True, False),
        "starttls": (True, False),
        "starttls-auto": (False, True),
        "none": (False, False),
    }[security]


def _server_view(server: MailServer | None) -> dict[str, Any]:
    if server is None:
        # Nothing configured yet: the documented defaults of the reference API.
        return {
            "type": "SMTP",
            "server": None,
            "port": None,
            "reply_to": None,
            "username": None,
            "auth": "AUTO",
            "enable_tls_ssl": True,
            "enable_starttls_auto": False,
            "mail_from": None,
            "security": None,
            "tls_verify": True,
            "ca_file": None,
            "ca_pem": None,
            "timeout": None,
            "rate_limit_per_minute": None,
        }
    tls_ssl, starttls_auto = flags_from_security(server.security)
    return {
        "type": server.provider,
        "server": server.host,
        "port": server.port,
        "reply_to": server.reply_to,
        "username": server.username,
        "auth": server.auth,
        "enable_tls_ssl": tls_ssl,
        "enable_starttls_auto": starttls_auto,
        "mail_from": server.mail_from or _address_or_none(server.username),
        "security": server.security,
        "tls_verify": server.tls_verify,
        "ca_file": server.ca_file,
        "ca_pem": server.ca_pem,
        "timeout": server.timeout,
        "rate_limit_per_minute": server.rate_limit_per_minute,
    }


def _address_or_none(username: str | None) -> str | None:
    if username and "@" in username:
        try:
            return v.email_address("mail_from", username)
        except ValidationError:
            return None
    return None


def _server_changes(changes: Mapping[str, Any], server: MailServer | None) -> dict[str, Any]:
    """API server fields → cleaned mail server changes, the TLS flags folded into `security`."""
    raw = {SERVER_FIELD_MAP[k]: value for k, value in changes.items() if k in SERVER_FIELD_MAP}
    try:
        cleaned = clean_server_fields(raw)
    except ValidationError as exc:
        raise ValidationError(API_NAME.get(exc.field, exc.field), exc.message) from None
    flags = {name: v.boolean(name, changes[name]) for name in TLS_FLAGS if name in changes}
    if "security" not in cleaned and (flags or "port" in cleaned):
        current = flags_from_security(server.security) if server else (True, False)
        port = cleaned.get("port", server.port if server else 587)
        cleaned["security"] = security_from_flags(
            flags.get("enable_tls_ssl", current[0]),
            flags.get("enable_starttls_auto", current[1]),
            port,
        )
    return cleaned


def _toggle_changes(changes: Mapping[str, Any], toggles: tuple[str, ...]) -> dict[str, bool]:
    return {name: v.boolean(name, changes[name]) for name in toggles if name in changes}


def _apply_default_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    changes: Mapping[str, Any],
    actor: Actor,
) -> list[str]:
    server = default_mail_server(session=session, tenant=tenant)
    check_actor_rights(changes, server, actor)
    server_changes = _server_changes(changes, server)
    if not server_changes:
        return []
    try:
        if server is None:
            if "host" not in server_changes and not _preset_fills_host(server_changes):
                raise ValidationError(
                    "server", "is required to configure a mail server for the first time"
                )
            create_mail_server(
                session=session,
                box=box,
                tenant=tenant,
                data={"name": DEFAULT_SERVER_NAME, **server_changes},
                actor=actor,
                commit=False,
            )
            return [API_NAME.get(name, name) for name in server_changes]
        fields = apply_server_changes(
            session=session, box=box, server=server, changes=server_changes
        )
        check_complete(server)
        fence_host(server, actor)
        session.add(server)
        return [API_NAME.get(name, name) for name in fields]
    except SystemOnlyField:
        raise
    except ValidationError as exc:
        raise ValidationError(API_NAME.get(exc.field, exc.field), exc.message) from None


def _preset_fills_host(server_changes: Mapping[str, Any]) -> bool:
    from core.mail.presets import preset_for

    return "host" in preset_for(server_changes.get("provider", "SMTP"))


def get_notification_settings(*, session: Session, tenant: Tenant) -> dict[str, Any]:
    settings = _tenant_settings(session, tenant)
    effective = resolve_effective_server(session=session, tenant=tenant)
    return {
        **_server_view(default_mail_server(session=session, tenant=tenant)),
        "recipients": ",".join(settings.recipients),
        **{name: getattr(settings, name) for name in TENANT_TOGGLES},
        "effective_mail_server": effective.source or "none",
    }


def _tenant_settings(session: Session, tenant: Tenant) -> NotificationSettings:
    assert tenant.id is not None
    settings = session.get(NotificationSettings, tenant.id)
    if settings is None:
        settings = NotificationSettings(tenant_id=tenant.id)
        session.add(settings)
    return settings


TENANT_FIELDS = (*SERVER_FIELD_MAP, *TLS_FLAGS, "recipients", *TENANT_TOGGLES)
SYSTEM_FIELDS = (
    *SERVER_FIELD_MAP,
    *TLS_FLAGS,
    "recipients",
    "apply_to_all_tenants",
    *SYSTEM_TOGGLES,
)


def update_notification_settings(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    changes: Mapping[str, Any],
    actor: Actor,
) -> dict[str, Any]:
    """Partial update of a tenant's flat settings; refused whole when any rule breaks."""
    v.known_fields(changes, TENANT_FIELDS)
    settings = _tenant_settings(session, tenant)
    toggles = _toggle_changes(changes, TENANT_TOGGLES)
    new_recipients = (
        v.recipients("recipients", changes["recipients"])
        if "recipients" in changes
        else list(settings.recipients)
    )
    enabled = [name for name in TENANT_TOGGLES if toggles.get(name, getattr(settings, name))]
    if enabled and not new_recipients:
        newly = [name for name in enabled if toggles.get(name) and not getattr(settings, name)]
        if newly:
            raise ValidationError(
                newly[0], "cannot be enabled without recipients: add at least one to recipients"
            )
        raise ValidationError(
            "recipients",
            f"cannot be emptied while {', '.join(enabled)} is enabled: disable it first",
        )
    fields = _apply_default_server(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    )
    if "recipients" in changes and new_recipients != settings.recipients:
        settings.recipients = new_recipients
        fields.append("recipients")
    for name, value in toggles.items():
        if getattr(settings, name) != value:
            setattr(settings, name, value)
            fields.append(name)
    settings.updated_at = utcnow()
    session.add(settings)
    record(
        session,
        actor=actor,
        action="notification_settings.update",
        tenant=tenant.slug,
        fields=fields,
    )
    session.commit()
    return get_notification_settings(session=session, tenant=tenant)


def system_settings(session: Session) -> SystemSettings:
    settings = session.get(SystemSettings, 1)
    if settings is None:
        settings = SystemSettings(id=1)
        session.add(settings)
    return settings


def get_system_settings(*, session: Session) -> dict[str, Any]:
    settings = system_settings(session)
    return {
        **_server_view(default_mail_server(session=session, tenant=None)),
        "apply_to_all_tenants": settings.apply_to_all_tenants,
        "recipients": ",".join(settings.recipients),
        **{name: getattr(settings, name) for name in SYSTEM_TOGGLES},
    }


def update_system_settings(
    *, session: Session, box: SecretBox, changes: Mapping[str, Any], actor: Actor
) -> dict[str, Any]:
    v.known_fields(changes, SYSTEM_FIELDS)
    settings = system_settings(session)
    updates: dict[str, Any] = _toggle_changes(changes, SYSTEM_TOGGLES)
    if "apply_to_all_tenants" in changes:
        updates["apply_to_all_tenants"] = v.boolean(
            "apply_to_all_tenants", changes["apply_to_all_tenants"]
        )
    if "recipients" in changes:
        updates["recipients"] = v.recipients("recipients", changes["recipients"])
    fields = _apply_default_server(
        session=session, box=box, tenant=None, changes=changes, actor=actor
    )
    for name, value in updates.items():
        if getattr(settings, name) != value:
            setattr(settings, name, value)
            fields.append(name)
    settings.updated_at = utcnow()
    session.add(settings)
    record(session, actor=actor, action="system_settings.update", fields=fields)
    session.commit()
    return get_system_settings(session=session)
