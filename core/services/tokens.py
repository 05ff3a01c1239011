"""API tokens: shown once, stored as SHA-256, compared in constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, select

from core import validation as v
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.auth import ApiToken
from core.models.tenancy import Tenant
from core.services.audit import Actor, record

TOKEN_PREFIX = "mb_"
LOOKUP_LENGTH = 8


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str


def create_token(
    *, session: Session, tenant: Tenant | None, name: str, actor: Actor
) -> IssuedToken:
    name = v.single_line("name", name.strip(), max_length=100)
    if not name:
        raise ValidationError("name", "is required")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        tenant_id=tenant.id if tenant else None,
        token_hash=_digest(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + LOOKUP_LENGTH],
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=actor,
        action="token.create",
        tenant=tenant.slug if tenant else None,
        target=f"token:{token.id}",
        fields=["name"],
    )
    session.commit()
    return IssuedToken(token=token, plaintext=plaintext)


def authenticate_token(*, session: Session, plaintext: str) -> ApiToken | None:
    """The live token matching `plaintext`, or None. Looks up by prefix, compares the digest in
    constant time, and stamps `last_used_at`."""
    prefix = plaintext[: len(TOKEN_PREFIX) + LOOKUP_LENGTH]
    digest = _digest(plaintext)
    candidates = session.exec(
        select(ApiToken).where(ApiToken.prefix == prefix, col(ApiToken.revoked_at).is_(None))
    ).all()
    for token in candidates:
        if hmac.compare_digest(token.token_hash, digest):
            token.last_used_at = utcnow()
            session.add(token)
            session.commit()
            return token
    return None


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id))))


def revoke_token(*, session: Session, token_id: int, actor: Actor) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        raise NotFound(f"token {token_id} does not exist or is revoked already")
    token.revoked_at = utcnow()
    session.add(token)
    record(session, actor=actor, action="token.revoke", target=f"token:{token_id}")
    session.commit()
    return token
