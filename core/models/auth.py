"""API tokens: only a SHA-256 of the token is stored; the token itself is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core.models._common import utcnow


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    # ids are never reused on SQLite (migration 0009)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
