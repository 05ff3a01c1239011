"""Health use cases every front end calls: read the states, check now, look at one subject,
mute its alerts for a while. Reads need no commit; muting commits with its audit entry.

`tenant` is the caller's reach: a tenant's admin passes its tenant and sees or mutes only that
tenant's subjects (another tenant's subject is "not found", never "forbidden"); system callers
pass None.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from core.context import Context
from core.errors import NotFound, ValidationError
from core.health.runner import run_checks
from core.health.store import get_subject, history, list_health
from core.models._common import utcnow
from core.models.health import HealthChangeRead, HealthRead, HealthSubject
from core.models.tenancy import Tenant
from core.services.audit import Actor, record

MUTE_MAX_HOURS = 24 * 30

__all__ = ["check_now", "get_health", "list_health", "mute_subject", "subject_detail"]


def get_health(
    *, session: Session, tenant: Tenant | None = None, system: bool = False
) -> list[HealthRead]:
    """The states a caller may see: one tenant's, the system's, or (neither) everything."""
    return list_health(session, tenant=tenant, system=system)


async def check_now(
    ctx: Context, *, tenant: Tenant | None = None, system: bool = False
) -> list[HealthRead]:
    """Run every check for the scope now (one result per subject), then its states."""
    return await run_checks(ctx, tenant=tenant, system=system)


def _visible_subject(session: Session, key: str, tenant: Tenant | None) -> HealthSubject:
    row = get_subject(session, key)
    if row is None or (tenant is not None and row.tenant_id != tenant.id):
        raise NotFound(f"no health subject {key!r}")
    return row


def subject_detail(
    *, session: Session, key: str, tenant: Tenant | None = None, limit: int = 50
) -> tuple[HealthRead, list[HealthChangeRead]]:
    """One subject and its state changes, newest first."""
    row = _visible_subject(session, key, tenant)
    reads = [r for r in list_health(session) if r.key == row.key]
    return reads[0], history(session, row.key, limit=limit)


def mute_subject(
    *,
    session: Session,
    key: str,
    tenant: Tenant | None = None,
    hours: float = 24.0,
    actor: Actor,
) -> HealthRead:
    """Silence the subject's alerts and reminders for `hours` (0: unmute); its state goes on
    being checked and shown."""
    if not 0 <= hours <= MUTE_MAX_HOURS:
        raise ValidationError("hours", f"must be between 0 and {MUTE_MAX_HOURS}")
    row = _visible_subject(session, key, tenant)
    row.muted_until = utcnow() + timedelta(hours=hours) if hours else None
    session.add(row)
    slug = session.get(Tenant, row.tenant_id).slug if row.tenant_id is not None else None  # type: ignore[union-attr]
    record(
        session,
        actor=actor,
        action="health.mute" if hours else "health.unmute",
        tenant=slug,
        target=row.key,
        fields=[f"hours:{hours:g}"] if hours else [],
    )
    session.commit()
    return next(r for r in list_health(session) if r.key == key)
