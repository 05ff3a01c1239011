"""The audit log: who changed what, from where, and each field's value before and after.

A secret's values are never stored: both read `"changed"`. Entries written before values were
recorded (migration 0021) have the changed fields' names only; they read back with `before`
and `after` null.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

SOURCES = ("tui", "slack", "api", "cli", "ssh")
# What a secret field's before and after read: that it changed, never what it was or became.
CHANGED = "changed"
# A recorded value is bounded: longer text is cut (with "…"), longer lists and mappings keep
# their first items. An entry stays small however big the changed thing is.
VALUE_MAX_CHARS = 200
VALUE_MAX_ITEMS = 20


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    # ids are never reused on SQLite (migration 0009)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=200)
    source: str = Field(max_length=8)
    # The slug, not a foreign key: the trail outlives a deleted tenant.
    tenant: str | None = Field(default=None, max_length=63, index=True)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=200)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # {field: {"before": v, "after": v}} for the fields whose values were recorded; None on
    # entries older than migration 0021 (and on those that recorded names only).
    changes: dict[str, dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class FieldChange(BaseModel):
    """A field's value before and after (null when not recorded; `"changed"` for a secret)."""

    before: Any = None
    after: Any = None


class AuditEntryRead(BaseModel):
    """An audit entry as any front end shows it: every changed field, with its values when
    they were recorded."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    source: str
    tenant: str | None
    action: str
    target: str | None
    fields: list[str]
    changes: dict[str, FieldChange]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryRead:
        assert entry.id is not None
        return cls.from_row(entry.model_dump())

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> AuditEntryRead:
        """From the columns as stored (an ORM row's or a plain select's): trusted, so built
        without validation; an export reads thousands a second.

        The recorded changes come in the order their service gave them (the thing's name
        first), then the fields named without values."""
        fields = list(row["fields"] or [])
        recorded = row["changes"] or {}
        changes = {
            name: FieldChange.model_construct(
                **(recorded.get(name) or {"before": None, "after": None})
            )
            for name in [*recorded, *(n for n in fields if n not in recorded)]
        }
        return cls.model_construct(
            id=row["id"],
            at=row["at"],
            actor=row["actor"],
            source=row["source"],
            tenant=row["tenant"],
            action=row["action"],
            target=row["target"],
            fields=fields,
            changes=changes,
        )
