"""API tokens: shown once, stored as SHA-256, compared in constant time, revocable, scoped
(`TokenScope`) and possibly expiring.

Creating and revoking are use cases: each commits with its audit entry. Identifying a token
on a request is a step of the request's own transaction: it stamps the last use there and
never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from core import validation as v
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.auth import ApiToken, TokenCreated, TokenRead, scope_order
from core.models.tenancy import Tenant
from core.services.audit import Actor, record
from core.vocabulary import (
    TOKEN_EXPIRY_UNITS,
    TOKEN_MAX_LIFETIME_DAYS,
    TOKEN_SCOPES_DEFAULT,
    TokenScope,
)

TOKEN_PREFIX = "mb_"
LOOKUP_LENGTH = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_SCOPE_VALUES = frozenset(scope.value for scope in TokenScope)
_SCOPE_WORDS = ", ".join(TokenScope)
_DURATION = re.compile(r"^([0-9]{1,7})([a-z])$")


def parse_scopes(given: str | Iterable[str], *, field: str = "scopes") -> frozenset[TokenScope]:
    """`read,write` (or a list of words) as scopes; an unknown or missing scope is refused."""
    words = given.split(",") if isinstance(given, str) else list(given)
    scopes = set()
    for word in words:
        word = str(word).strip().lower()
        if word not in _SCOPE_VALUES:
            shown = word[:40] if word else "(empty)"
            raise ValidationError(field, f"unknown scope {shown!r}: use {_SCOPE_WORDS}")
        scopes.add(TokenScope(word))
    if not scopes:
        raise ValidationError(field, f"give at least one scope of {_SCOPE_WORDS}")
    return frozenset(scopes)


def parse_expiry(given: str, *, now: datetime, field: str = "expires") -> datetime:
    """When a token given `--expires GIVEN` at `now` expires: `90d`, `12h`, `30m`, `2w` from
    now, or an ISO date (its start, 00:00 UTC) or date and time (UTC unless it says). It must
    be in the future and at most TOKEN_MAX_LIFETIME_DAYS ahead."""
    text = given.strip()
    rule = (
        f"a duration such as 90d, 12h, 30m or 2w, or an ISO date such as 2027-03-01 "
        f"(at most {TOKEN_MAX_LIFETIME_DAYS} days ahead)"
    )
    if (match := _DURATION.match(text.lower())) is not None:
        amount, unit = int(match[1]), match[2]
        if unit not in TOKEN_EXPIRY_UNITS or amount == 0:
            raise ValidationError(field, f"{text[:40]!r} is not {rule}")
        seconds = amount * TOKEN_EXPIRY_UNITS[unit]
        if seconds > TOKEN_MAX_LIFETIME_DAYS * 86400:
            raise ValidationError(field, f"{text[:40]!r} is too far ahead: give {rule}")
        return now + timedelta(seconds=seconds)
    try:
        at = (
            datetime.combine(date.fromisoformat(text), time(), UTC)
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise ValidationError(field, f"{text[:40]!r} is not {rule}") from None
    return _checked_expiry(at, now=now, field=field, rule=rule)


def _checked_expiry(at: datetime, *, now: datetime, field: str, rule: str) -> datetime:
    if at.utcoffset() is None:
        at = at.replace(tzinfo=UTC)
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # the year 9999 at a negative offset
        raise ValidationError(field, f"{at.isoformat()} is too far ahead: give {rule}") from None
    if at <= now:
        raise ValidationError(field, f"{at.isoformat()} has passed: give {rule}")
    if at - now > timedelta(days=TOKEN_MAX_LIFETIME_DAYS):
        raise ValidationError(field, f"{at.isoformat()} is too far ahead: give {rule}")
    return at


def create_token(
    *,
    session: Session,
    tenant: Tenant | None,
    name: str,
    actor: Actor,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> TokenCreated:
    """A new token with `scopes` (default: read, write, events) that expires at `expires_at`
    (None: never; otherwise in the future, see `parse_expiry`)."""
    name = v.single_line("name", name.strip(), max_length=100)
    if not name:
        raise ValidationError("name", "is required")
    granted = TOKEN_SCOPES_DEFAULT if scopes is None else parse_scopes(scopes)
    if expires_at is not None:
        expires_at = _checked_expiry(
            expires_at,
            now=utcnow(),
            field="expires_at",
            rule=f"a time at most {TOKEN_MAX_LIFETIME_DAYS} days ahead",
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        tenant_id=tenant.id if tenant else None,
        token_hash=token_digest(plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + LOOKUP_LENGTH],
        scopes=[scope.value for scope in scope_order(granted)],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record(
        session,
        actor=actor,
        action="token.create",
        tenant=tenant.slug if tenant else None,
        target=f"token:{token.id}",
        changes={
            "name": (None, token.name),
            "scopes": (None, token.scopes),
            "expires_at": (None, expires_at),
        },
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
    owner = _owner_slug(session, token)
    token.revoked_at = utcnow()
    session.add(token)
    record(
        session,
        actor=actor,
        action="token.revoke",
        tenant=owner,
        target=f"token:{token_id}",
        changes={"revoked_at": (None, token.revoked_at)},
    )
    session.commit()
    return TokenRead.of(token, owner)


def set_token_expiry(
    *, session: Session, token_id: int, expires_at: datetime | None, actor: Actor
) -> TokenRead:
    """Move a live token's expiry (None: never). A time already past is allowed: the token
    stops working at once, like a revocation that keeps saying why (401 "expired")."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        raise NotFound(f"token {token_id} does not exist or is revoked already")
    if expires_at is not None and expires_at.utcoffset() is None:
        raise ValidationError("expires_at", "must say its time zone (UTC)")
    owner = _owner_slug(session, token)
    before, token.expires_at = token.expires_at, expires_at
    session.add(token)
    record(
        session,
        actor=actor,
        action="token.update",
        tenant=owner,
        target=f"token:{token_id}",
        changes={"expires_at": (before, expires_at)},
    )
    session.commit()
    return TokenRead.of(token, owner)


def _owner_slug(session: Session, token: ApiToken) -> str | None:
    owner = session.get(Tenant, token.tenant_id) if token.tenant_id is not None else None
    return owner.slug if owner is not None else None
