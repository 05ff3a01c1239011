"""The audit log a page at a time, with the filters the HTTP API offers (actor, source, tenant,
action, time range): keyset paging on the id, so a deep page costs what the first does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from core.errors import ValidationError
from core.models.audit import SOURCES, AuditEntry, AuditEntryRead
from core.vocabulary import ROW_ID_MAX

PAGE_MAX = 1000


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: each given field must match exactly; `since` inclusive, `until` exclusive."""

    tenant: str | None = None
    actor: str | None = None
    source: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def checked(self) -> AuditFilter:
        if self.source is not None and self.source not in SOURCES:
            raise ValidationError(
                "source", f"{self.source[:20]!r} is not one of {', '.join(SOURCES)}"
            )
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValidationError("until", "must be later than since")
        return self

    def where(self, table: Any) -> list[Any]:
        wanted = {
            "tenant": self.tenant,
            "actor": self.actor,
            "source": self.source,
            "action": self.action,
        }
        clauses = [table.c[name] == value for name, value in wanted.items() if value is not None]
        if self.since is not None:
            clauses.append(table.c.at >= self.since)
        if self.until is not None:
            clauses.append(table.c.at < self.until)
        return clauses


def _table() -> Any:
    return AuditEntry.__table__  # type: ignore[attr-defined]


def audit_page(
    *,
    session: Session,
    which: AuditFilter,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntryRead]:
    """One page of matching entries, newest first; `before_id`: the last id of the previous page."""
    if isinstance(limit, bool) or not 1 <= limit <= PAGE_MAX:
        raise ValidationError("limit", f"{limit!r} is not between 1 and {PAGE_MAX}")
    table = _table()
    query = sa.select(table).where(*which.checked().where(table))
    if before_id is not None and before_id <= ROW_ID_MAX:  # past the largest id: every row
        query = query.where(table.c.id < max(before_id, 0))
    query = query.order_by(table.c.id.desc()).limit(limit)
    rows = session.connection().execute(query).mappings()
    return [AuditEntryRead.from_row(row) for row in rows]


def audit_batch(
    *, session: Session, which: AuditFilter, after_id: int, batch: int
) -> list[AuditEntryRead]:
    """The next `batch` matching entries after id `after_id`, oldest first (an export's step:
    plain rows, nothing kept in the session between batches)."""
    table = _table()
    query = (
        sa.select(table)
        .where(table.c.id > after_id, *which.checked().where(table))
        .order_by(table.c.id)
        .limit(batch)
    )
    return [AuditEntryRead.from_row(row) for row in session.connection().execute(query).mappings()]
