"""API tokens: only a SHA-256 of the token is stored; the token itself is shown once
(`TokenCreated.plaintext`); `TokenRead` is what a listing shows.

A token has scopes (`core.vocabulary.TokenScope`, stored as a JSON list) and may expire
(`expires_at`, aware UTC; None: never).
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core.models._common import utcnow
from core.vocabulary import TOKEN_SCOPES_ALL, TOKEN_SCOPES_DEFAULT, TokenScope


def scope_order(scopes: object) -> list[TokenScope]:
    """Scopes in the vocabulary's order (read, write, events, admin), each once; unknown words
    (none are ever stored) are dropped rather than granting anything."""
    given = (
        {str(scope) for scope in scopes} if isinstance(scopes, list | set | frozenset) else set()
    )
    return [scope for scope in TokenScope if scope.value in given]


# Rows written without a scope list, as every row from before migration 0020 was, have every
# scope: such tokens keep the full rights they had.
ALL_SCOPES_JSON = json.dumps([scope.value for scope in scope_order(TOKEN_SCOPES_ALL)])


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
    scopes: list[str] = Field(
        default_factory=lambda: [s.value for s in scope_order(TOKEN_SCOPES_DEFAULT)],
        sa_column=Column(JSON, nullable=False, server_default=ALL_SCOPES_JSON),
    )
    expires_at: datetime | None = None
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
    scopes: list[TokenScope]
    expires_at: datetime | None  # None: never expires
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @classmethod
    def of(cls, token: ApiToken, tenant: str | None) -> TokenRead:
        fields = token.model_dump(exclude={"token_hash"})
        return cls.model_validate({**fields, "scopes": scope_order(token.scopes), "tenant": tenant})


class TokenCreated(BaseModel):
    """A new token: `plaintext` is shown this once (only its SHA-256 is stored)."""

    token: TokenRead
    plaintext: str
