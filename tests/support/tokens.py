"""API tokens with chosen scopes and expiry, made through the real token service.

- `make_token`: a token of a tenant (or of the system) with the scopes given (the service's
  default when None); returns its plaintext.
- `expire_token`: moves a token's expiry into the past through the service (no clock waits).
- `token_row`: the stored row of a plaintext token, to read its scopes, expiry and last use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session, select

from core.models._common import utcnow
from core.models.auth import ApiToken
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.token_identity import token_digest
from core.services.tokens import create_token, set_token_expiry

__all__ = ["expire_token", "make_token", "token_row"]

TOKEN_ADMIN = Actor(name="tester", source="cli")


def make_token(
    session: Session,
    tenant: Tenant | None,
    *,
    scopes: Iterable[str] | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
    actor: Actor = TOKEN_ADMIN,
) -> str:
    given = list(scopes) if scopes is not None else None
    label = name or ("-".join(given) if given is not None else "default") + "-token"
    return create_token(
        session=session,
        tenant=tenant,
        name=label,
        actor=actor,
        scopes=given,
        expires_at=expires_at,
    ).plaintext


def token_row(session: Session, plaintext: str) -> ApiToken:
    session.expire_all()
    return session.exec(
        select(ApiToken).where(ApiToken.token_hash == token_digest(plaintext))
    ).one()


def expire_token(
    session: Session, plaintext: str, *, ago: timedelta = timedelta(minutes=1)
) -> datetime:
    """Make the token expired `ago` before now; returns its new expiry."""
    row = token_row(session, plaintext)
    assert row.id is not None
    at = utcnow() - ago
    set_token_expiry(session=session, token_id=row.id, expires_at=at, actor=TOKEN_ADMIN)
    return at
