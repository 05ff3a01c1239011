"""Slack access: who is acting, who may act (system and tenant admins), refusals.

System admins come from `MAILBELL_SLACK_ADMINS` (passed in as `admin_ids`) or from the
`slack_system_admin` table (`mailbell slack admin add USER_ID`); tenant admins act only for their
tenant, i.e. in channels linked to it. An empty team id on a row means "any workspace".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from core.errors import Conflict, NotFound, ValidationError
from core.models.slack import SlackSystemAdmin, SlackTenantAdmin
from core.models.tenancy import Tenant
from core.services.audit import Actor, record

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,63}$")
SLACK_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,63}$")

# -- who ------------------------------------------------------------------------------------------


def slack_actor(user_id: str, team_id: str | None) -> Actor:
    """The audit actor of a Slack user: `U123@T456` (source `slack`)."""
    return Actor(name=f"{user_id}@{team_id}" if team_id else user_id, source="slack")


def check_user_id(value: str, field: str = "user") -> str:
    value = value.strip().upper()
    if not USER_ID.match(value):
        raise ValidationError(field, f"{value!r} is not a Slack user id (like U0123ABCD)")
    return value


def check_id(value: str, field: str) -> str:
    value = value.strip()
    if not SLACK_ID.match(value):
        raise ValidationError(field, f"{value!r} is not a Slack id")
    return value


def is_system_admin(
    *, session: Session, admin_ids: Iterable[str], user_id: str, team_id: str | None
) -> bool:
    """In `MAILBELL_SLACK_ADMINS`, or added as a system admin (for any team or this one)."""
    if user_id in set(admin_ids):
        return True
    params = {"user_id": user_id, "team_id": team_id or ""}
    return session.connection().execute(_system_admin_statement(), params).first() is not None


@functools.cache
def _system_admin_statement() -> Any:
    admins = SlackSystemAdmin.__table__  # type: ignore[attr-defined]
    return select(admins.c.id).where(
        admins.c.user_id == bindparam("user_id"),
        or_(admins.c.team_id == "", admins.c.team_id == bindparam("team_id")),
    )


@functools.cache
def _tenant_admin_statement() -> Any:
    admins = SlackTenantAdmin.__table__  # type: ignore[attr-defined]
    return select(admins.c.id).where(
        admins.c.tenant_id == bindparam("tenant_id"),
        admins.c.user_id == bindparam("user_id"),
        or_(admins.c.team_id == "", admins.c.team_id == bindparam("team_id")),
    )


def is_tenant_admin(*, session: Session, tenant_id: int, user_id: str, team_id: str | None) -> bool:
    """An admin of the tenant, for this team or any (one prebuilt statement: every command)."""
    params = {"tenant_id": tenant_id, "user_id": user_id, "team_id": team_id or ""}
    return session.connection().execute(_tenant_admin_statement(), params).first() is not None


def is_authorized(
    *,
    session: Session,
    admin_ids: Iterable[str],
    user_id: str,
    team_id: str | None,
    tenant: Tenant | None,
) -> bool:
    """System admins everywhere; tenant admins only for their tenant (the channel's tenant)."""
    if is_system_admin(session=session, admin_ids=admin_ids, user_id=user_id, team_id=team_id):
        return True
    return tenant is not None and is_tenant_admin(
        session=session, tenant_id=tenant.id or 0, user_id=user_id, team_id=team_id
    )


def acting_admin(
    *,
    session: Session,
    admin_ids: Iterable[str],
    user_id: str,
    team_id: str | None,
    tenant: Tenant | None,
    refused: str,
) -> Actor | None:
    """Who a Slack user acts as on `tenant`: a system admin as itself, an admin of that tenant
    with that tenant's rights only (`tenant_scoped`: fenced hosts, …). Anyone else gets None,
    and the refusal of `refused` (what they tried) is audited."""
    actor = slack_actor(user_id, team_id)
    if is_system_admin(session=session, admin_ids=admin_ids, user_id=user_id, team_id=team_id):
        return actor
    if tenant is not None and is_tenant_admin(
        session=session, tenant_id=tenant.id or 0, user_id=user_id, team_id=team_id
    ):
        return replace(actor, tenant_scoped=True)
    slug = tenant.slug if tenant is not None else None
    record_refusal(session=session, actor=actor, tenant_slug=slug, command=refused)
    return None


def record_refusal(
    *, session: Session, actor: Actor, tenant_slug: str | None, command: str
) -> None:
    """Audit a refused command; nothing else is written."""
    record(
        session,
        actor=actor,
        action="slack.refused",
        tenant=tenant_slug,
        target=command[:200],
    )
    session.commit()


# -- admins -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminView:
    user_id: str
    team_id: str
    tenant: str | None  # None: a system admin
    source: str  # "env" (MAILBELL_SLACK_ADMINS) or "db"


def add_admin(
    *,
    session: Session,
    user_id: str,
    tenant: Tenant | None,
    actor: Actor,
    team_id: str = "",
) -> AdminView:
    """A tenant admin (or, with tenant None, a system admin); `team_id` "" means any team."""
    user_id = check_user_id(user_id)
    team_id = check_id(team_id, "team") if team_id else ""
    row: SlackTenantAdmin | SlackSystemAdmin
    if tenant is None:
        exists = select(SlackSystemAdmin).where(
            SlackSystemAdmin.user_id == user_id,
            col(SlackSystemAdmin.team_id).in_(["", team_id]),  # an any-team row covers it
        )
        row = SlackSystemAdmin(user_id=user_id, team_id=team_id)
    else:
        exists = select(SlackTenantAdmin).where(  # type: ignore[assignment]
            SlackTenantAdmin.tenant_id == tenant.id,
            SlackTenantAdmin.user_id == user_id,
            col(SlackTenantAdmin.team_id).in_(["", team_id]),
        )
        row = SlackTenantAdmin(tenant_id=tenant.id or 0, user_id=user_id, team_id=team_id)
    owner = f"tenant {tenant.slug}" if tenant else "the system"
    if session.exec(exists).first() is not None:
        raise Conflict(f"{user_id} is already a Slack admin of {owner}")
    session.add(row)
    record(
        session,
        actor=actor,
        action="slack.admin.add",
        tenant=tenant.slug if tenant else None,
        target=f"slack-user:{user_id}",
        # The team the right holds in ("" any team) is what a reader needs to judge it.
        changes={"admin": (False, True), "team": (None, team_id or "any")},
    )
    session.commit()
    return AdminView(user_id, team_id, tenant.slug if tenant else None, "db")


def remove_admin(*, session: Session, user_id: str, tenant: Tenant | None, actor: Actor) -> int:
    """Remove the user's admin rows for the tenant (or the system), in every team."""
    user_id = check_user_id(user_id)
    rows: list[Any]
    if tenant is None:
        rows = list(
            session.exec(select(SlackSystemAdmin).where(SlackSystemAdmin.user_id == user_id))
        )
    else:
        rows = list(
            session.exec(
                select(SlackTenantAdmin).where(
                    SlackTenantAdmin.tenant_id == tenant.id, SlackTenantAdmin.user_id == user_id
                )
            )
        )
    owner = f"tenant {tenant.slug}" if tenant else "the system"
    if not rows:
        raise NotFound(f"{user_id} is not a Slack admin of {owner}")
    for row in rows:
        session.delete(row)
    record(
        session,
        actor=actor,
        action="slack.admin.remove",
        tenant=tenant.slug if tenant else None,
        target=f"slack-user:{user_id}",
        changes={
            "admin": (True, False),
            "team": (", ".join(sorted(row.team_id or "any" for row in rows)), None),
        },
    )
    session.commit()
    return len(rows)


def list_admins(
    *, session: Session, tenant: Tenant | None, admin_ids: Iterable[str] = ()
) -> list[AdminView]:
    """Tenant admins of `tenant`, or (tenant None) system admins: the environment's, then the
    database's."""
    if tenant is None:
        views = [AdminView(uid, "", None, "env") for uid in admin_ids]
        query = select(SlackSystemAdmin).order_by(col(SlackSystemAdmin.user_id))
        views += [AdminView(r.user_id, r.team_id, None, "db") for r in session.exec(query)]
        return views
    tenant_query = (
        select(SlackTenantAdmin)
        .where(SlackTenantAdmin.tenant_id == tenant.id)
        .order_by(col(SlackTenantAdmin.user_id))
    )
    return [AdminView(r.user_id, r.team_id, tenant.slug, "db") for r in session.exec(tenant_query)]
