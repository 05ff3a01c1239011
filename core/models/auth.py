"""API tokens: only a SHA-256 of the token is stored; the token itself is shown once
(`TokenCreated.plaintext`); `TokenRead` is what a listing shows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
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


class TokenRead(BaseModel):
    """A token as any front end lists it: never the token itself, nor its hash."""

    id: int
    name: str
    tenant_id: int | None
    tenant: str | None  # the tenant's slug; None for a system token
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def of(cls, token: ApiToken, tenant: str | None) -> TokenRead:
        return cls.model_validate({**token.model_dump(exclude={"token_hash"}), "tenant": tenant})


class TokenCreated(BaseModel):
    """A new token: `plaintext` is shown this once (only its SHA-256 is stored)."""

    token: TokenRead
    plaintext: str
