"""Identifying an API token on a request: compared in constant time, a step of the request's
own transaction (it stamps the last use there and never commits).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col

from core.models._common import utcnow
from core.models.auth import ApiToken, scope_order
from core.models.tenancy import Tenant
from core.vocabulary import TokenScope

TOKEN_PREFIX = "mb_"
LOOKUP_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenIdentity:
    """Who a live token is: its id and name, and its tenant (None for a system token).

    `tenant` is a detached row (built from the same query, not attached to any session): read
    its fields, pass it to services; do not add it to a session.
    """

    id: int
    name: str
    tenant: Tenant | None
    scopes: frozenset[TokenScope]
    expires_at: datetime | None

    @property
    def tenant_id(self) -> int | None:
        return self.tenant.id if self.tenant is not None else None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@cache
def _identify_statement() -> Any:
    token, tenant = ApiToken.__table__, Tenant.__table__  # type: ignore[attr-defined]
    return (
        sa_select(
            token.c.id,
            token.c.name,
            token.c.token_hash,
            token.c.last_used_at,
            token.c.scopes,
            token.c.expires_at,
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
    transaction: the caller commits it. An expired token is returned (the caller refuses it,
    saying why) but never stamped: it was not used.

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
        if not identity.expired(now) and _stamp_due(last_used, now):
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
        now = utcnow()
        peeked[digest] = (
            (found[0], not found[0].expired(now) and _stamp_due(found[1], now)) if found else None
        )
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
    for row in rows:
        token_id, name, token_hash, last_used_at, scopes, expires_at = row[:6]
        tenant_id, slug, tenant_name, created = row[6:]
        if not hmac.compare_digest(token_hash, digest):
            continue
        tenant = None
        if tenant_id is not None:
            if slug is None:
                return None  # its tenant is gone
            tenant = Tenant(id=tenant_id, slug=slug, name=tenant_name, created_at=created)
            make_transient_to_detached(tenant)
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        identity = TokenIdentity(token_id, name, tenant, frozenset(scope_order(scopes)), expires_at)
        return identity, last_used_at
    return None
