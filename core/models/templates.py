"""Per-tenant custom email templates; a row replaces the default of its name for its tenant only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from core.models._common import utcnow


class CustomTemplate(SQLModel, table=True):
    __tablename__ = "custom_template"
    __table_args__ = (
        Index("uq_custom_template_tenant_name", "tenant_id", "name", unique=True),
        Index(
            "uq_custom_template_system_name",
            "name",
            unique=True,
            sqlite_where=text("tenant_id IS NULL"),
            postgresql_where=text("tenant_id IS NULL"),
        ),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"))
    )
    name: str = Field(max_length=32)
    mail_from: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=998)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
