from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import col

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from core.models.tenancy import Tenant


def utcnow() -> datetime:
    """Aware UTC now: the UTC column type refuses naive datetimes."""
    return datetime.now(UTC)


def owned_by(tenant_id: Any, tenant: Tenant | None) -> ColumnElement[bool]:
    """The condition on a `tenant_id` column for the rows of `tenant` (None: the system's,
    whose tenant_id is NULL)."""
    column = col(tenant_id)
    return column.is_(None) if tenant is None else column == tenant.id


def owner_label(tenant: Tenant | None) -> str:
    """How messages name an owner: "the system" or "tenant 'acme'"."""
    return "the system" if tenant is None else f"tenant {tenant.slug!r}"
