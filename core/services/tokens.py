"""API tokens: shown once, stored as SHA-256, compared in constant time, revocable.

Creating and revoking are use cases: each commits with its audit entry. Identifying a token
on a request is a step of the request's own transaction: it stamps the last use there and
never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from core import validation as v
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.auth import ApiToken, TokenCreated, TokenRead
from core.models.tenancy import Tenant
from core.services.audit import Actor, record

TOKEN_PREFIX = "mb_"
LOOKUP_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *, session: Session, tenant: Tenant | None, name: str, actor: Actor
) -> TokenCreated:
    name = v.single_line("name", name.strip(), max_length=100)
    if not name:
        raise ValidationError("name", "is required")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        tenant_id=tenant.id if tenant else None,
        token_hash=token_digest(plaintext),
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
    return TokenCreated(
        token=TokenRead.of(token, tenant.slug if tenant else None), plaintext=plaintext
    )


@dataclass(frozen=True)
class TokenIdentity:
    """Who a live token is: its id and name, and its tenant (None for a system token).

    `tenant` is a detached row (built from the same query, not attached to any session): read
    its fields, pass it to services; do not add it to a session.
    """

    id: int
    name: str
    tenant: Tenant | None

    @property
    def tenant_id(self) -> int | None:
        return self.tenant.id if self.tenant is not None else None


@cache
def _identify_statement() -> Any:
    token, tenant = ApiToken.__table__, Tenant.__table__  # type: ignore[attr-defined]
    return (
        sa_select(
            token.c.id,
            token.c.name,
            token.c.token_hash,
            token.c.last_used_at,
            token.c.tenant_id,
            tenant.c.slug,
            tenant.c.name,
            tenant.c.created_at,
        )
        .select_from(token.outerjoin(tenant, tenant.c.id == token.c.tenant_id))
        .where(token.c.prefix == bindparam("prefix"), token.c.revoked_at.is_(None))
    )


_SEEN = "mailbell.tokens_seen"
_PEEKED = "mailbell.tokens_peeked"


def identify_token(*, session: Session, plaintext: str) -> TokenIdentity | None:
    """The live token matching `plaintext`, or None, for every HTTP request: one Core query for
    the token and its tenant (by prefix, no ORM loading), the digest compared in constant time,
    and `last_used_at` stamped to the minute (at most one write a minute) in the caller's
    transaction: the caller commits it.

    Inside one transaction a token is looked up once (the API runs a group of requests in one).
    """
    digest = token_digest(plaintext)
    seen: dict[str, TokenIdentity | None] = _memo_of_transaction(session, _SEEN)
    if digest in seen:
        return seen[digest]
    found = _lookup(session, plaintext, digest)
    identity = None
    if found is not None:
        identity, last_used = found
        now = utcnow()
        if _stamp_due(last_used, now):
            session.execute(
                update(ApiToken).where(col(ApiToken.id) == identity.id).values(last_used_at=now)
            )
    seen[digest] = identity
    return identity


def peek_token(*, session: Session, plaintext: str) -> tuple[TokenIdentity, bool] | None:
    """`identify_token` without its write, for threads that must not write: the identity, and
    whether its last use is due to be stamped (by `identify_token` in a writing transaction).
    A token is looked up once per transaction here too."""
    digest = token_digest(plaintext)
    peeked: dict[str, tuple[TokenIdentity, bool] | None] = _memo_of_transaction(session, _PEEKED)
    if digest not in peeked:
        found = _lookup(session, plaintext, digest)
        peeked[digest] = (found[0], _stamp_due(found[1], utcnow())) if found else None
    return peeked[digest]


def _memo_of_transaction(session: Session, name: str) -> dict[str, Any]:
    session.connection()  # begins the transaction, so that it has an identity
    transaction = session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not transaction:
        held = session.info[name] = (transaction, {})
    memo: dict[str, Any] = held[1]
    return memo


def _stamp_due(last_used: datetime | None, now: datetime) -> bool:
    """Stamped at most once a minute: identifying a token must not be a write per request."""
    if last_used is not None and last_used.tzinfo is None:
        last_used = last_used.replace(tzinfo=UTC)
    return last_used is None or now - last_used >= LAST_USED_RESOLUTION


def _lookup(
    session: Session, plaintext: str, digest: str
) -> tuple[TokenIdentity, datetime | None] | None:
    """The live token whose digest is `digest` (constant-time compare), with its last use."""
    prefix = plaintext[: len(TOKEN_PREFIX) + LOOKUP_LENGTH]
    rows = session.connection().execute(_identify_statement(), {"prefix": prefix}).all()
    for token_id, name, token_hash, last_used_at, tenant_id, slug, tenant_name, created in rows:
        if not hmac.compare_digest(token_hash, digest):
            continue
        tenant = None
        if tenant_id is not None:
            if slug is None:
                return None  # its tenant is gone
            tenant = Tenant(id=tenant_id, slug=slug, name=tenant_name, created_at=created)
            make_transient_to_detached(tenant)
        return TokenIdentity(id=token_id, name=name, tenant=tenant), last_used_at
    return None


def list_tokens(*, session: Session) -> list[TokenRead]:
    rows = session.exec(
        select(ApiToken, Tenant.slug)
        .outerjoin(Tenant, col(Tenant.id) == ApiToken.tenant_id)
        .order_by(col(ApiToken.id))
    )
    return [TokenRead.of(token, slug) for token, slug in rows]


def revoke_token(*, session: Session, token_id: int, actor: Actor) -> TokenRead:
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        raise NotFound(f"token {token_id} does not exist or is revoked already")
    token.revoked_at = utcnow()
    session.add(token)
    record(session, actor=actor, action="token.revoke", target=f"token:{token_id}")
    session.commit()
    owner = session.get(Tenant, token.tenant_id) if token.tenant_id is not None else None
    return TokenRead.of(token, owner.slug if owner else None)
