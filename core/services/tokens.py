"""API tokens: shown once, stored as SHA-256, revocable, scoped (`TokenScope`) and possibly
expiring. Creating and revoking are use cases: each commits with its audit entry. Identifying a
token on a request: core/services/token_identity.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from core import validation as v
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.auth import ApiToken, TokenCreated, TokenRead, scope_order
from core.models.tenancy import Tenant
from core.services.audit import Actor, record
from core.services.token_identity import LOOKUP_LENGTH, TOKEN_PREFIX, token_digest
from core.vocabulary import (
    TOKEN_EXPIRY_UNITS,
    TOKEN_MAX_LIFETIME_DAYS,
    TOKEN_SCOPES_DEFAULT,
    TokenScope,
)

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


class _EveryOwner:
    """The owner filter of the CLI, which manages every owner's tokens."""


EVERY_OWNER = _EveryOwner()
TokenOwner = Tenant | None | _EveryOwner


def _owned_by(owner: TokenOwner, token_tenant_id: int | None) -> bool:
    if isinstance(owner, _EveryOwner):
        return True
    return token_tenant_id == (owner.id if owner is not None else None)


def list_tokens(*, session: Session, owner: TokenOwner = EVERY_OWNER) -> list[TokenRead]:
    """Tokens, revoked ones too, oldest first: `owner`'s (a tenant, or None for the system's)
    or every owner's."""
    statement = (
        select(ApiToken, Tenant.slug)
        .outerjoin(Tenant, col(Tenant.id) == ApiToken.tenant_id)
        .order_by(col(ApiToken.id))
    )
    if not isinstance(owner, _EveryOwner):
        owner_id = owner.id if owner is not None else None
        statement = statement.where(col(ApiToken.tenant_id) == owner_id)
    return [TokenRead.of(token, slug) for token, slug in session.exec(statement)]


def revoke_token(
    *, session: Session, token_id: int, actor: Actor, owner: TokenOwner = EVERY_OWNER
) -> TokenRead:
    """Revoke a live token; with `owner`, only one of its tokens (another owner's is NotFound,
    as one that does not exist: a tenant learns nothing of others' tokens)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None or not _owned_by(owner, token.tenant_id):
        raise NotFound(f"token {token_id} does not exist or is revoked already")
    owner_slug = _owner_slug(session, token)
    token.revoked_at = utcnow()
    session.add(token)
    record(
        session,
        actor=actor,
        action="token.revoke",
        tenant=owner_slug,
        target=f"token:{token_id}",
        changes={"revoked_at": (None, token.revoked_at)},
    )
    session.commit()
    return TokenRead.of(token, owner_slug)


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
