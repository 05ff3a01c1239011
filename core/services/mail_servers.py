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

Callers give `MailServerCreate` / `MailServerUpdate` and get `MailServerRead` back (no secret,
only flags); each change commits with its audit entry. The rules themselves live in
core.services.mail_server_fields, where they run inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.models._common import owner_label
from core.models.mail import (
    EmailAccount,
    EmailAccountRead,
    MailServer,
    MailServerCreate,
    MailServerRead,
    MailServerUpdate,
)
from core.models.tenancy import NotificationSettings, SystemSettings, Tenant
from core.services.audit import Actor, deleted, record
from core.services.mail_server_fields import (
    SystemOnlyField,
    apply_server_changes,
    check_actor_rights,
    check_complete,
    check_unique_name,
    default_flag,
    fence_host,
    find_default,
    owner_query,
    server_values,
    stage_new_server,
    stage_server,
)
from core.services.versions import ExpectedVersion, refuse_stale

# Rules of core.services.mail_server_fields that callers take from here.
__all__ = [
    "SystemOnlyField",
    "apply_server_changes",
    "check_actor_rights",
    "check_complete",
    "fence_host",
]


def _unchanged_server(
    session: Session, tenant: Tenant | None, server_id: int, expected_version: ExpectedVersion
) -> MailServer:
    """The server, refused (StaleVersion) when it changed since `expected_version`."""
    server = mail_server_row(session=session, tenant=tenant, server_id=server_id)
    refuse_stale(
        session, server, expected_version, f"mail server {server.name}", f"mail_server:{server.id}"
    )
    return server


def list_mail_servers(*, session: Session, tenant: Tenant | None) -> list[MailServerRead]:
    rows = session.exec(owner_query(tenant).order_by(col(MailServer.id)))
    return [MailServerRead.of(row) for row in rows]


def mail_server_row(*, session: Session, tenant: Tenant | None, server_id: int) -> MailServer:
    """The row of server `server_id` of this owner (for core's own use: sending, OAuth);
    another owner's server is not found."""
    server = session.exec(owner_query(tenant).where(MailServer.id == server_id)).first()
    if server is None:
        raise NotFound(f"mail server {server_id} does not exist for {owner_label(tenant)}")
    return server


def get_mail_server(*, session: Session, tenant: Tenant | None, server_id: int) -> MailServerRead:
    """The server `server_id` of this owner; another owner's server is not found."""
    return MailServerRead.of(mail_server_row(session=session, tenant=tenant, server_id=server_id))


def default_mail_server(*, session: Session, tenant: Tenant | None) -> MailServer | None:
    return find_default(session, tenant)


def create_mail_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    data: MailServerCreate,
    actor: Actor,
) -> MailServerRead:
    """Add a server to this owner (its first becomes its default); committed with its audit."""
    server, _ = stage_new_server(session=session, box=box, tenant=tenant, data=data, actor=actor)
    session.commit()
    return MailServerRead.of(server)


def update_mail_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    server_id: int,
    changes: MailServerUpdate,
    actor: Actor,
    expected_version: ExpectedVersion = None,
) -> MailServerRead:
    """Change the fields given in `changes`; committed with its audit entry. With
    `expected_version` (what an editor opened, or an If-Match's tags; core.services.versions):
    StaleVersion, and nothing changed, when someone else changed the server since."""
    server = _unchanged_server(session, tenant, server_id, expected_version)
    check_actor_rights(changes.given(), server, actor)
    was_default = server.is_default
    if changes.is_default is not None:
        if changes.is_default:
            server.is_default = default_flag(session, tenant, server, True)
        elif server.is_default:
            raise ValidationError(
                "is_default", "an owner keeps one default: make another server the default instead"
            )
    applied = apply_server_changes(box=box, server=server, changes=changes)
    if server.is_default != was_default:
        applied["is_default"] = (was_default, server.is_default)
    check_complete(server)
    fence_host(server, actor)
    check_unique_name(session, tenant, server)
    stage_server(session, server, tenant, "mail_server.update", applied, actor)
    session.commit()
    return MailServerRead.of(server)


def set_default_mail_server(
    *, session: Session, tenant: Tenant | None, server_id: int, actor: Actor
) -> MailServerRead:
    """Make `server_id` its owner's default; the previous default stops being one."""
    server = mail_server_row(session=session, tenant=tenant, server_id=server_id)
    previous = find_default(session, tenant)
    if previous is not None and previous.id != server.id:
        previous.is_default = False
        session.add(previous)
        session.flush()  # the one-default index must see the old default cleared first
    was_default = server.is_default
    server.is_default = True
    session.add(server)
    # The owner's default before and after, so the entry says which server lost the role.
    before = None if previous is None else f"mail_server:{previous.id} ({previous.name})"
    record(
        session,
        actor=actor,
        action="mail_server.set_default",
        tenant=tenant.slug if tenant else None,
        target=f"mail_server:{server.id}",
        changes={
            "is_default": (was_default, True),
            "default_server": (before, f"mail_server:{server.id} ({server.name})"),
        },
    )
    session.commit()
    return MailServerRead.of(server)


@dataclass(frozen=True)
class DeletedServer:
    detached_accounts: list[EmailAccountRead]
    new_default: MailServerRead | None


def delete_mail_server(
    *,
    session: Session,
    tenant: Tenant | None,
    server_id: int,
    actor: Actor,
    expected_version: ExpectedVersion = None,
) -> DeletedServer:
    """Delete the server and detach the accounts that used it (they lose their outbound path).

    When the default goes, the owner's oldest remaining server becomes the default, so a tenant
    with servers left is never silently unconfigured. `expected_version` as for an update.
    """
    server = _unchanged_server(session, tenant, server_id, expected_version)
    removed = deleted(server_values(server))
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
        new_default = session.exec(owner_query(tenant).order_by(col(MailServer.id))).first()
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
        changes=removed,
    )
    session.commit()
    return DeletedServer(
        detached_accounts=[EmailAccountRead.of(account) for account in detached],
        new_default=MailServerRead.of(new_default) if new_default is not None else None,
    )


@dataclass(frozen=True)
class EffectiveServer:
    """Which server sends a tenant's mail, and why (DESIGN §2)."""

    server: MailServer | None
    source: str | None  # "tenant", "system", or None when not configured
    # Set while the tenant's `use_system_server` is on: what the switch does now, or why it
    # cannot (every front end's banner shows it).
    note: str | None = None

    @property
    def configured(self) -> bool:
        return self.server is not None


_SENDS_OWN = "the tenant's own server sends its mail"
_SENDS_NONE = "no server sends its mail"


def choose_source(
    *, has_own: bool, has_system: bool, apply_to_all: bool, use_system_server: bool
) -> tuple[str | None, str | None]:
    """The effective-server rule on its facts alone: the source ("tenant", "system" or None)
    and the note to show. For callers that read the facts their own way (the Slack status's
    one statement); `resolve_effective_server` is the rule on the rows.

    The switch wins only while the system applies its settings to all tenants and has a
    default server; otherwise the rule without the switch holds and the note says why."""
    if use_system_server and apply_to_all and has_system:
        note = (
            "use_system_server is on: the system's server sends this tenant's mail; its own "
            "servers are kept, unused"
            if has_own
            else None
        )
        return "system", note
    note = None
    if use_system_server:
        why = (
            "the system does not apply its mail settings to all tenants"
            if not apply_to_all
            else "the system has no default mail server"
        )
        note = f"use_system_server is on, but {why}: {_SENDS_OWN if has_own else _SENDS_NONE}"
    if has_own:
        return "tenant", note
    if apply_to_all and has_system:
        return "system", note
    return None, note


def resolve_effective_server(*, session: Session, tenant: Tenant | None) -> EffectiveServer:
    """The tenant's default server, unless its `use_system_server` is on and the system
    applies its settings to all tenants (then the system default); else the system default
    when "apply to all tenants" is on; else none.

    `tenant=None` is a system-scope event: always the system default.
    """
    if tenant is None:
        shared = default_mail_server(session=session, tenant=None)
        return EffectiveServer(shared, "system" if shared else None)
    own = default_mail_server(session=session, tenant=tenant)
    system = session.get(SystemSettings, 1)
    settings = session.get(NotificationSettings, tenant.id) if tenant.id is not None else None
    use_system_server = bool(settings and settings.use_system_server)
    # The system's server matters only when the tenant has none or asks for it.
    shared = (
        default_mail_server(session=session, tenant=None)
        if own is None or use_system_server
        else None
    )
    source, note = choose_source(
        has_own=own is not None,
        has_system=shared is not None,
        apply_to_all=bool(system and system.apply_to_all_tenants),
        use_system_server=use_system_server,
    )
    server = {"tenant": own, "system": shared}.get(source or "")
    return EffectiveServer(server, source, note)
