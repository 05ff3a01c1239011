"""Notification settings: one read and one update for a tenant or, `tenant` None, the system.

A tenant's settings combine its recipients, its toggles and its default mail server; the
system's combine "apply to all tenants", the system recipients and toggles, and the system
default server. Updates (`NotificationSettingsUpdate`, validated by the model) are partial and
all-or-nothing: one broken rule and nothing changes. The update is a use case: it commits its
own transaction, with its audit entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlmodel import Session

from core import validation as v
from core.catalog import TOGGLES_WITHOUT_RECIPIENTS
from core.crypto import SecretBox
from core.digest_policy import default_policy, owner_policies
from core.digest_policy import setting_name as digest_setting_name
from core.errors import ValidationError
from core.locality import Locality
from core.models._common import utcnow
from core.models.mail import UNCONFIGURED, MailServer, MailServerCreate, MailServerUpdate
from core.models.tenancy import (
    DELIVERY_SETTINGS,
    LOCALITY_SETTINGS,
    SERVER_SETTING_COLUMNS,
    SERVER_VIEW,
    SETTING_OF_COLUMN,
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    TLS_FLAGS,
    NotificationSettings,
    NotificationSettingsRead,
    NotificationSettingsUpdate,
    SystemSettings,
    Tenant,
    settings_fields,
)
from core.services.audit import Actor, Changes, record
from core.services.mail_server_fields import (
    SystemOnlyField,
    apply_server_changes,
    check_actor_rights,
    check_complete,
    fence_host,
    stage_new_server,
)
from core.services.mail_servers import default_mail_server, resolve_effective_server
from core.vocabulary import DEFAULT_LOCALE, DEFAULT_TIMEZONE, Provider, SecurityMode

DEFAULT_SERVER_NAME = "default"
IMPLICIT_TLS_PORT = 465


def security_from_flags(enable_tls_ssl: bool, enable_starttls_auto: bool, port: int) -> str:
    """The PortSIP flags as a security mode (DESIGN §4, mapping of the TLS flags)."""
    if enable_tls_ssl:
        return SecurityMode.TLS if port == IMPLICIT_TLS_PORT else SecurityMode.STARTTLS
    return SecurityMode.STARTTLS_AUTO if enable_starttls_auto else SecurityMode.NONE


def flags_from_security(security: str) -> tuple[bool, bool]:
    """`security` as the two PortSIP flags (enable_tls_ssl, enable_starttls_auto)."""
    return {
        SecurityMode.TLS: (True, False),
        SecurityMode.STARTTLS: (True, False),
        SecurityMode.STARTTLS_AUTO: (False, True),
        SecurityMode.NONE: (False, False),
    }[SecurityMode(security)]


def _server_view(server: MailServer | None) -> dict[str, Any]:
    """The server's fields as the settings show them (`SERVER_VIEW`): its columns, the TLS
    flags of its security mode and, without a From, the username when it is an address."""
    shown = {name: SERVER_SETTING_COLUMNS[name] for name in SERVER_VIEW if name not in TLS_FLAGS}
    if server is None:
        # Nothing configured yet: the documented defaults of the reference API.
        view = {name: UNCONFIGURED.get(column) for name, column in shown.items()}
        return {"configured": False, **view, "enable_tls_ssl": True, "enable_starttls_auto": False}
    view = {name: getattr(server, column) for name, column in shown.items()}
    view["mail_from"] = server.mail_from or _address_or_none(server.username)
    tls_ssl, starttls_auto = flags_from_security(server.security)
    return {
        "configured": True,
        **view,
        "enable_tls_ssl": tls_ssl,
        "enable_starttls_auto": starttls_auto,
    }


def _address_or_none(username: str | None) -> str | None:
    if username and "@" in username:
        try:
            return v.email_address("mail_from", username)
        except ValidationError:
            return None
    return None


def server_columns(
    changes: NotificationSettingsUpdate, server: MailServer | None
) -> dict[str, Any]:
    """The given server fields as columns, the TLS flags folded into `security`."""
    columns = changes.server_changes()
    given = changes.given()
    flags = {
        name: given[name] for name in ("enable_tls_ssl", "enable_starttls_auto") if name in given
    }
    if "security" not in columns and (flags or "port" in columns):
        current = flags_from_security(server.security) if server else (True, False)
        port = columns.get("port", server.port if server else 587)
        columns["security"] = security_from_flags(
            flags.get("enable_tls_ssl", current[0]),
            flags.get("enable_starttls_auto", current[1]),
            port,
        )
    return columns


@contextmanager
def named_as_settings() -> Iterator[None]:
    """A refusal of a server field names the setting (`server`, `type`), as the settings call
    it; a field only system actors may set keeps its own refusal."""
    try:
        yield
    except SystemOnlyField:
        raise
    except ValidationError as exc:
        raise ValidationError(SETTING_OF_COLUMN.get(exc.field, exc.field), exc.message) from None


def _apply_default_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    changes: NotificationSettingsUpdate,
    actor: Actor,
) -> Changes:
    """Apply the given server fields to the owner's default server (made when there is none);
    returns the changes under their settings' names."""
    server = default_mail_server(session=session, tenant=tenant)
    check_actor_rights(changes.given(), server, actor)
    server_changes = server_columns(changes, server)
    if not server_changes:
        return {}
    with named_as_settings():
        if server is None:
            if "host" not in server_changes and not _preset_fills_host(server_changes):
                raise ValidationError(
                    "server", "is required to configure a mail server for the first time"
                )
            data = {"name": DEFAULT_SERVER_NAME, **server_changes}
            _, created = stage_new_server(
                session=session,
                box=box,
                tenant=tenant,
                data=MailServerCreate.model_construct(set(data), **data),
                actor=actor,
            )
            return {
                SETTING_OF_COLUMN.get(name, name): created.get(name, (None, None))
                for name in server_changes
            }
        # Checked already, by the same rules as MailServerUpdate's.
        update = MailServerUpdate.model_construct(set(server_changes), **server_changes)
        applied = apply_server_changes(box=box, server=server, changes=update)
        check_complete(server)
        fence_host(server, actor)
        session.add(server)
        return {SETTING_OF_COLUMN.get(name, name): change for name, change in applied.items()}


def _preset_fills_host(server_changes: dict[str, Any]) -> bool:
    from core.mail.presets import preset_for

    return "host" in preset_for(server_changes.get("provider", Provider.SMTP))


def _tenant_row(session: Session, tenant: Tenant) -> NotificationSettings:
    assert tenant.id is not None
    row = session.get(NotificationSettings, tenant.id)
    if row is None:
        row = NotificationSettings(tenant_id=tenant.id)
        session.add(row)
    return row


def _system_row(session: Session) -> SystemSettings:
    row = session.get(SystemSettings, 1)
    if row is None:
        row = SystemSettings(id=1)
        session.add(row)
    return row


def system_locality(session: Session) -> Locality:
    """Where the system's mail reads (UTC, en_US until set). Read only: `_system_row` would add
    a missing system row to the session, whose autoflush then holds the database's write lock
    until the caller's session ends."""
    return (session.get(SystemSettings, 1) or SystemSettings(id=1)).locality()


def get_notification_settings(
    *, session: Session, tenant: Tenant | None
) -> NotificationSettingsRead:
    """The settings of `tenant`, or of the system when it is None."""
    view = _server_view(default_mail_server(session=session, tenant=tenant))
    if tenant is None:
        system = _system_row(session)
        return NotificationSettingsRead(
            tenant=None,
            **view,
            recipients=list(system.recipients),
            toggles={name: getattr(system, name) for name in SYSTEM_TOGGLES},
            apply_to_all_tenants=system.apply_to_all_tenants,
            recipient_mode=system.recipient_mode,
            digests=_shown_digests(system.digests, system=True),
            timezone=system.timezone,
            locale=system.locale,
            effective_timezone=system.timezone,
            effective_locale=system.locale,
        )
    row = _tenant_row(session, tenant)
    effective = resolve_effective_server(session=session, tenant=tenant)
    locality = row.locality(system_locality(session))
    return NotificationSettingsRead(
        tenant=tenant.slug,
        **view,
        recipients=list(row.recipients),
        toggles={name: getattr(row, name) for name in TENANT_TOGGLES},
        effective_mail_server=effective.source or "none",
        effective_mail_server_note=effective.note,
        recipient_mode=row.recipient_mode,
        use_system_server=row.use_system_server,
        digests=_shown_digests(row.digests, system=False),
        timezone=row.timezone,
        locale=row.locale,
        effective_timezone=locality.timezone,
        effective_locale=locality.locale,
    )


def _shown_digests(stored: dict[str, str], *, system: bool) -> dict[str, str]:
    policies = owner_policies(stored, system=system, default=default_policy())
    return {event: policy.shown() for event, policy in policies.items()}


def update_notification_settings(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    changes: NotificationSettingsUpdate,
    actor: Actor,
) -> NotificationSettingsRead:
    """Partial update of `tenant`'s (or the system's) settings, committed with its audit entry;
    refused whole when any rule breaks (a field of the other scope is unknown here)."""
    given = changes.given()
    v.known_fields(given, settings_fields(tenant))
    row: NotificationSettings | SystemSettings = (
        _system_row(session) if tenant is None else _tenant_row(session, tenant)
    )
    toggles = {n: given[n] for n in (*TENANT_TOGGLES, *SYSTEM_TOGGLES) if n in given}
    if tenant is not None:
        _check_recipients_rule(row, toggles, given.get("recipients"))
    changed = _apply_default_server(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    )
    # The audit lists the changed fields in the order each scope always listed them.
    values: dict[str, Any] = {}
    if tenant is None:
        values.update(toggles)
        if "apply_to_all_tenants" in given:
            values["apply_to_all_tenants"] = given["apply_to_all_tenants"]
    if "recipients" in given:
        values["recipients"] = list(given["recipients"])
    if tenant is not None:
        values.update(toggles)
    values.update({name: given[name] for name in DELIVERY_SETTINGS if name in given})
    values.update(_locality_values(given, system=tenant is None))
    for name, value in values.items():
        if getattr(row, name) != value:
            changed[name] = (getattr(row, name), value)
            setattr(row, name, value)
    digests = changes.digest_changes()
    if digests:
        merged = dict(row.digests)
        events = [event for event, policy in digests.items() if merged.get(event) != policy]
        merged.update({event: digests[event] for event in events})
        # As the settings show a policy ("5/10m", "off"), the default included.
        before = _shown_digests(row.digests, system=tenant is None)
        after = _shown_digests(merged, system=tenant is None)
        for event in events:
            changed[digest_setting_name(event)] = (before.get(event), after.get(event))
        row.digests = merged
    row.updated_at = utcnow()
    session.add(row)
    if tenant is None:
        record(session, actor=actor, action="system_settings.update", changes=changed)
    else:
        record(
            session,
            actor=actor,
            action="notification_settings.update",
            tenant=tenant.slug,
            changes=changed,
        )
    session.commit()
    return get_notification_settings(session=session, tenant=tenant)


def _locality_values(given: dict[str, Any], *, system: bool) -> dict[str, Any]:
    """The given time zone and locale as stored: a tenant's "" is None (the system's then
    applies); the system's "" is the default (UTC, en_US)."""
    defaults = {"timezone": DEFAULT_TIMEZONE, "locale": DEFAULT_LOCALE}
    values: dict[str, Any] = {}
    for name in LOCALITY_SETTINGS:
        if name in given and given[name] is not None:
            values[name] = given[name] or (defaults[name] if system else None)
    return values


def _check_recipients_rule(
    row: NotificationSettings | SystemSettings,
    toggles: dict[str, bool],
    recipients: list[str] | None,
) -> None:
    """A tenant event needs at least one recipient: enabling one without any, or emptying the
    list while one is on, is refused."""
    new_recipients = recipients if recipients is not None else list(row.recipients)
    enabled = [
        name
        for name in TENANT_TOGGLES
        if name not in TOGGLES_WITHOUT_RECIPIENTS and toggles.get(name, getattr(row, name))
    ]
    if not enabled or new_recipients:
        return
    newly = [name for name in enabled if toggles.get(name) and not getattr(row, name)]
    if newly:
        raise ValidationError(
            newly[0], "cannot be enabled without recipients: add at least one to recipients"
        )
    raise ValidationError(
        "recipients",
        f"cannot be emptied while {', '.join(enabled)} is enabled: disable it first",
    )
