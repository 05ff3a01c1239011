"""The audit log: who changed what, from where. Field names only, never values of secrets."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

SOURCES = ("tui", "slack", "api", "cli", "ssh")


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


class AuditEntryRead(BaseModel):
    """An audit entry as any front end shows it (field names only, never a value)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    source: str
    tenant: str | None
    action: str
    target: str | None
    fields: list[str]
