"""Tenants: create, list, get, rename, delete with everything they own."""

from __future__ import annotations

import re

from sqlmodel import Session, col, select

from core.errors import Conflict, NotFound, ValidationError
from core.models.tenancy import NotificationSettings, Tenant
from core.services.audit import Actor, record
from core.vocabulary import TENANT_SLUG_PATTERN

SLUG_PATTERN = re.compile(TENANT_SLUG_PATTERN)


def _check_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug):
        raise ValidationError(
            "slug",
            f"{slug!r} is not a valid slug: use 1-63 lowercase letters, digits and inner hyphens",
        )
    return slug


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or "\r" in name or "\n" in name:
        raise ValidationError("name", "must be 1-200 characters on one line")
    return name


def create_tenant(*, session: Session, slug: str, name: str | None = None, actor: Actor) -> Tenant:
    _check_slug(slug)
    name = _check_name(name if name is not None else slug)
    if session.exec(select(Tenant).where(Tenant.slug == slug)).first():
        raise Conflict(f"tenant {slug!r} exists already")
    tenant = Tenant(slug=slug, name=name)
    session.add(tenant)
    session.flush()
    assert tenant.id is not None
    session.add(NotificationSettings(tenant_id=tenant.id))
    record(
        session,
        actor=actor,
        action="tenant.create",
        tenant=slug,
        changes={"slug": (None, slug), "name": (None, name)},
    )
    session.commit()
    return tenant


def list_tenants(*, session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(col(Tenant.slug))))


def get_tenant(*, session: Session, slug: str) -> Tenant:
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        raise NotFound(f"tenant {slug!r} does not exist (see `mailbell tenant list`)")
    return tenant


def rename_tenant(*, session: Session, slug: str, name: str, actor: Actor) -> Tenant:
    tenant = get_tenant(session=session, slug=slug)
    before = tenant.name
    tenant.name = _check_name(name)
    session.add(tenant)
    record(
        session,
        actor=actor,
        action="tenant.rename",
        tenant=slug,
        changes={"name": (before, tenant.name)},
    )
    session.commit()
    return tenant


def delete_tenant(*, session: Session, slug: str, actor: Actor) -> None:
    """Delete the tenant and, by cascade, its servers, accounts, settings, templates and tokens."""
    tenant = get_tenant(session=session, slug=slug)
    session.delete(tenant)
    record(
        session,
        actor=actor,
        action="tenant.delete",
        tenant=slug,
        changes={"slug": (slug, None), "name": (tenant.name, None)},
    )
    session.commit()
