"""Mail servers of the system (tenant None) or of one tenant.

Rules (DESIGN §2): one default per owner, moved only by `set_default_mail_server`; an empty
password keeps the stored one; presets fill what the caller did not give; a change of provider,
OAuth client id, client secret, directory id or username drops stored OAuth tokens (they were
issued to the old identity); deleting a server detaches the accounts that used it; a server
needs a usable From (`mail_from`, or a username that is an address); secrets are at most
1,024 characters.

Tenant-scoped actors (`Actor.tenant_scoped`) are fenced: `ca_file` names a host file and is
for system-level actors only (`SystemOnlyField`, 403 in the API; tenants send `ca_pem`), and
the host must resolve only to addresses `MAILBELL_TENANT_SMTP_NETWORKS` allows
(core/netfence.py). Their saves mark the row `fenced`, so every later connection checks the
host again; a system-level actor's save clears the mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core import netfence
from core import validation as v
from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.mail.presets import preset_for
from core.models._common import utcnow
from core.models.mail import EmailAccount, MailServer
from core.models.tenancy import SystemSettings, Tenant
from core.services.audit import Actor, record
from core.services.mail_server_fields import (
    OAUTH_IDENTITY_FIELDS,
    OAUTH_TOKEN_COLUMNS,
    SECRET_INPUTS,
    SystemOnlyField,
    clean_server_fields,
)


def _owner_query(tenant: Tenant | None) -> Any:
    if tenant is None:
        return select(MailServer).where(col(MailServer.tenant_id).is_(None))
    return select(MailServer).where(MailServer.tenant_id == tenant.id)


def _owner_label(tenant: Tenant | None) -> str:
    return "the system" if tenant is None else f"tenant {tenant.slug!r}"


def list_mail_servers(*, session: Session, tenant: Tenant | None) -> list[MailServer]:
    return list(session.exec(_owner_query(tenant).order_by(col(MailServer.id))))


def get_mail_server(*, session: Session, tenant: Tenant | None, server_id: int) -> MailServer:
    """The server `server_id` of this owner; another owner's server is not found."""
    server = session.exec(_owner_query(tenant).where(MailServer.id == server_id)).first()
    if server is None:
        raise NotFound(f"mail server {server_id} does not exist for {_owner_label(tenant)}")
    return server


def default_mail_server(*, session: Session, tenant: Tenant | None) -> MailServer | None:
    return session.exec(_owner_query(tenant).where(col(MailServer.is_default).is_(True))).first()


def has_sender(server: MailServer) -> bool:
    """A From can be made: `mail_from`, or a username that is an address."""
    if server.mail_from:
        return True
    if not server.username or "@" not in server.username:
        return False
    try:
        v.email_address("username", server.username)
    except ValidationError:
        return False
    return True


def check_complete(server: MailServer) -> None:
    if not server.host:
        raise ValidationError("host", "is required: the SMTP server's host name or address")
    if server.auth != "DISABLE" and not server.username:
        raise ValidationError(
            "username", f"is required when auth is {server.auth} (or set auth to DISABLE)"
        )
    if not has_sender(server):
        # Refused now rather than failing every later email for want of a From.
        raise ValidationError(
            "mail_from",
            "is required: set the From address (the username "
            + (f"{server.username!r} is not an address)" if server.username else "is empty)"),
        )


def check_actor_rights(
    data: Mapping[str, Any], server: MailServer | None, actor: Actor, *, field: str = "ca_file"
) -> None:
    """Raw input a tenant-scoped actor may not give: any change of `ca_file` (a host path),
    refused before the value is even looked at, so the answer says nothing about the file."""
    if not actor.tenant_scoped or "ca_file" not in data:
        return
    value = data["ca_file"]
    current = server.ca_file if server is not None else None
    unchanged = (value in (None, "") and current is None) or (
        isinstance(value, str) and current is not None and value.strip() == current
    )
    if not unchanged:
        raise SystemOnlyField(
            field,
            "can be set only by a system administrator (CLI, TUI or a system token); "
            "send the CA bundle as PEM text in ca_pem instead",
        )


def fence_host(server: MailServer, actor: Actor, *, field: str = "host") -> None:
    """A tenant-scoped actor's save: the host must be allowed, and the row is marked fenced so
    that every connection checks it again; a system-level actor's save clears the mark."""
    if not actor.tenant_scoped:
        server.fenced = False
        return
    netfence.check_host(field, server.host)
    server.fenced = True


def _check_unique_name(session: Session, tenant: Tenant | None, server: MailServer) -> None:
    query = _owner_query(tenant).where(MailServer.name == server.name)
    if server.id is not None:
        query = query.where(MailServer.id != server.id)
    if session.exec(query).first() is not None:
        raise ValidationError(
            "name", f"{server.name!r} is taken: {_owner_label(tenant)} has a server of that name"
        )


def _default_flag(
    session: Session, tenant: Tenant | None, server: MailServer, wants_default: bool
) -> bool:
    """An owner's first server becomes its default; asking for a second default is refused."""
    current = default_mail_server(session=session, tenant=tenant)
    if current is None or current.id == server.id:
        return True
    if wants_default:
        raise ValidationError(
            "is_default",
            f"{_owner_label(tenant)} already has a default server "
            f"({current.name!r}, id {current.id}); one default per owner: "
            "use `server default ID` to move it",
        )
    return False


def _identity_changes(server: MailServer, changes: Mapping[str, Any]) -> bool:
    """The change gives the server another OAuth identity (ThingsBoard's rule)."""
    for name in OAUTH_IDENTITY_FIELDS:
        if name not in changes:
            continue
        if name in SECRET_INPUTS:
            if changes[name]:  # a new secret (an empty one keeps the stored secret)
                return True
        elif changes[name] != getattr(server, name):
            return True
    return False


def apply_server_changes(
    *, session: Session, box: SecretBox, server: MailServer, changes: Mapping[str, Any]
) -> list[str]:
    """Apply cleaned `changes` to `server` (no commit). Returns the names of changed fields."""
    changes = dict(changes)
    changed: list[str] = []
    provider_changed = "provider" in changes and changes["provider"] != server.provider
    if provider_changed or server.id is None:
        for key, value in preset_for(changes.get("provider", server.provider)).items():
            if changes.get(key) is None:
                changes[key] = value
    if _identity_changes(server, changes) and any(
        getattr(server, name) for name in OAUTH_TOKEN_COLUMNS
    ):
        for name in OAUTH_TOKEN_COLUMNS:
            setattr(server, name, None)
        changed.append("oauth_tokens")
    for name, value in changes.items():
        if name == "is_default":
            continue
        if name in SECRET_INPUTS:
            if value:  # empty keeps the stored secret
                setattr(server, SECRET_INPUTS[name], box.encrypt(value))
                changed.append(name)
            continue
        if getattr(server, name) != value:
            setattr(server, name, value)
            changed.append(name)
    server.updated_at = utcnow()
    return changed


def _save(
    session: Session,
    server: MailServer,
    tenant: Tenant | None,
    action: str,
    fields: list[str],
    actor: Actor,
    commit: bool,
) -> MailServer:
    """Write the server with its audit entry (field names only); commit unless told not to."""
    session.add(server)
    session.flush()
    record(
        session,
        actor=actor,
        action=action,
        tenant=tenant.slug if tenant else None,
        target=f"mail_server:{server.id}",
        fields=fields,
    )
    if commit:
        session.commit()
    return server


def create_mail_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    data: Mapping[str, Any],
    actor: Actor,
    commit: bool = True,
) -> MailServer:
    check_actor_rights(data, None, actor)
    changes = clean_server_fields(data)
    if "name" not in changes:
        raise ValidationError("name", "is required: a friendly label such as 'Production SMTP'")
    server = MailServer(tenant_id=tenant.id if tenant else None, name=changes["name"])
    fields = apply_server_changes(session=session, box=box, server=server, changes=changes)
    check_complete(server)
    fence_host(server, actor)
    _check_unique_name(session, tenant, server)
    server.is_default = _default_flag(session, tenant, server, changes.get("is_default", False))
    return _save(session, server, tenant, "mail_server.create", fields, actor, commit)


def update_mail_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    server_id: int,
    data: Mapping[str, Any],
    actor: Actor,
    commit: bool = True,
) -> MailServer:
    server = get_mail_server(session=session, tenant=tenant, server_id=server_id)
    check_actor_rights(data, server, actor)
    changes = clean_server_fields(data)
    if "is_default" in changes:
        if changes["is_default"]:
            server.is_default = _default_flag(session, tenant, server, True)
        elif server.is_default:
            raise ValidationError(
                "is_default", "an owner keeps one default: make another server the default instead"
            )
    fields = apply_server_changes(session=session, box=box, server=server, changes=changes)
    check_complete(server)
    fence_host(server, actor)
    _check_unique_name(session, tenant, server)
    return _save(session, server, tenant, "mail_server.update", fields, actor, commit)


def set_default_mail_server(
    *, session: Session, tenant: Tenant | None, server_id: int, actor: Actor
) -> MailServer:
    """Make `server_id` its owner's default; the previous default stops being one."""
    server = get_mail_server(session=session, tenant=tenant, server_id=server_id)
    previous = default_mail_server(session=session, tenant=tenant)
    if previous is not None and previous.id != server.id:
        previous.is_default = False
        session.add(previous)
        session.flush()  # the one-default index must see the old default cleared first
    server.is_default = True
    session.add(server)
    record(
        session,
        actor=actor,
        action="mail_server.set_default",
        tenant=tenant.slug if tenant else None,
        target=f"mail_server:{server.id}",
        fields=["is_default"],
    )
    session.commit()
    return server


@dataclass(frozen=True)
class DeletedServer:
    detached_accounts: list[EmailAccount]
    new_default: MailServer | None


def delete_mail_server(
    *, session: Session, tenant: Tenant | None, server_id: int, actor: Actor
) -> DeletedServer:
    """Delete the server and detach the accounts that used it (they lose their outbound path).

    When the default goes, the owner's oldest remaining server becomes the default, so a tenant
    with servers left is never silently unconfigured.
    """
    server = get_mail_server(session=session, tenant=tenant, server_id=server_id)
    detached = list(
        session.exec(select(EmailAccount).where(EmailAccount.mail_server_id == server.id))
    )
    for account in detached:
        account.mail_server_id = None
        session.add(account)
    session.delete(server)
    session.flush()
    new_default = None
    if server.is_default:
        new_default = session.exec(_owner_query(tenant).order_by(col(MailServer.id))).first()
        if new_default is not None:
            new_default.is_default = True
            session.add(new_default)
    record(
        session,
        actor=actor,
        action="mail_server.delete",
        tenant=tenant.slug if tenant else None,
        target=f"mail_server:{server_id}",
        fields=[f"detached_account:{account.id}" for account in detached],
    )
    session.commit()
    return DeletedServer(detached_accounts=detached, new_default=new_default)


@dataclass(frozen=True)
class EffectiveServer:
    """Which server sends a tenant's mail, and why (DESIGN §2)."""

    server: MailServer | None
    source: str | None  # "tenant", "system", or None when not configured

    @property
    def configured(self) -> bool:
        return self.server is not None


def resolve_effective_server(*, session: Session, tenant: Tenant | None) -> EffectiveServer:
    """Tenant default, else the system default when "apply to all tenants" is on, else none.

    `tenant=None` is a system-scope event: always the system default.
    """
    if tenant is not None:
        own = default_mail_server(session=session, tenant=tenant)
        if own is not None:
            return EffectiveServer(own, "tenant")
        system = session.get(SystemSettings, 1)
        if system is None or not system.apply_to_all_tenants:
            return EffectiveServer(None, None)
    shared = default_mail_server(session=session, tenant=None)
    return EffectiveServer(shared, "system" if shared else None)


def mail_server_public(server: MailServer) -> dict[str, Any]:
    """What any front end may show: every field but the secrets, which become flags."""
    return {
        "id": server.id,
        "name": server.name,
        "provider": server.provider,
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "auth": server.auth,
        "username": server.username,
        "has_password": server.password_enc is not None,
        "mail_from": server.mail_from,
        "reply_to": server.reply_to,
        "timeout": server.timeout,
        "rate_limit_per_minute": server.rate_limit_per_minute,
        "tls_verify": server.tls_verify,
        "ca_file": server.ca_file,
        "ca_pem": server.ca_pem,
        "oauth_client_id": server.oauth_client_id,
        "has_oauth_client_secret": server.oauth_client_secret_enc is not None,
        "oauth_directory_id": server.oauth_directory_id,
        "oauth_authorized": server.oauth_refresh_token_enc is not None,
        "default": server.is_default,
        "last_test_at": server.last_test_at,
        "last_test_ok": server.last_test_ok,
        "last_test_message": server.last_test_message,
    }
