"""Who is acting, and the audit trail every change leaves."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from core.access import SYSTEM_ADMIN, Grant, require_write
from core.errors import ValidationError
from core.models.audit import SOURCES, AuditEntry, AuditEntryRead


@dataclass(frozen=True)
class Actor:
    """A person or script acting through one front end (`tui`, `slack`, `api`, `cli`).

    `tenant_scoped`: the actor holds only a tenant's rights (a tenant API token, a tenant's Slack
    admin). Such actors are fenced: they may not name host files (`ca_file`) nor point a mail
    server at hosts outside `MAILBELL_TENANT_SMTP_NETWORKS`. System-level actors (CLI, TUI,
    system tokens, system Slack admins) are not.
    """

    name: str
    source: str
    tenant_scoped: bool = False
    # What a console session's role allows (core/access.py); every audited change is checked
    # against it. The other front ends' actors carry the system admin's grant: tokens and Slack
    # admins are authorized before an actor is made.
    grant: Grant = SYSTEM_ADMIN

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValidationError("source", f"{self.source!r} is not one of {', '.join(SOURCES)}")


def local_actor(source: str) -> Actor:
    """The person at this machine's terminal (the CLI, the TUI): the login behind `sudo` if any."""
    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = f"uid:{os.getuid()}"
    return Actor(name=name, source=source)


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    tenant: str | None = None,
    target: str | None = None,
    fields: Iterable[str] = (),
) -> AuditEntry:
    """Add an audit entry to the session; the caller's commit writes it with the change itself.

    `fields` are names only: callers pass the names of changed fields, never their values.
    Raises Forbidden, before anything is added, when the actor's grant does not cover `tenant`:
    the caller's transaction then rolls back with the change it was about to record.
    """
    require_write(actor.grant, tenant)
    entry = AuditEntry(
        actor=actor.name,
        source=actor.source,
        tenant=tenant,
        action=action,
        target=target,
        fields=sorted(set(fields)),
    )
    session.add(entry)
    return entry


def list_entries(
    *, session: Session, tenant: str | None = None, limit: int = 100
) -> list[AuditEntryRead]:
    """The newest `limit` entries (of one tenant's slug when given), newest first."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if tenant is not None:
        query = query.where(AuditEntry.tenant == tenant)
    return [AuditEntryRead.model_validate(entry) for entry in session.exec(query)]
