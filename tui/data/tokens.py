"""API tokens of the system or of a tenant: list, create (the secret returned once), revoke.

The role rule is the HTTP API's (api/routes/v1_tokens.py): whoever may change an owner manages
its tokens, any scope included, since a tenant's token (even with `admin`) reaches that tenant
only; the system's tokens are the system admins'. A viewer reads the list and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui.runtime import actor, check, grant, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.models.auth import TokenCreated, TokenRead


@dataclass(frozen=True)
class TokensView:
    """The owner's tokens (revoked ones too), when they were read, and why this session may
    not change them (None: it may)."""

    tokens: list[TokenRead]
    now: datetime
    refusal: str | None


def state(token: TokenRead, now: datetime) -> str:
    """live, expired or revoked (a revoked token says so whatever its expiry)."""
    if token.revoked:
        return "revoked"
    return "expired" if token.expired(now) else "live"


def refusal(slug: str | None) -> str | None:
    """Why this session may not create or revoke the owner's tokens (None: it may)."""
    from core.access import require_write
    from core.errors import Forbidden

    try:
        require_write(grant(), slug)
    except Forbidden as exc:
        return str(exc)
    return None


def load(ctx: Context, slug: str | None) -> TokensView:
    from core.models._common import utcnow
    from core.services.tokens import list_tokens

    with ctx.session() as session:
        rows = list_tokens(session=session, owner=owner(session, slug))
    return TokensView(rows, utcnow(), refusal(slug))


def create(
    ctx: Context, slug: str | None, name: str, scopes: list[str], expires: str
) -> TokenCreated:
    """A new token of the owner; `expires` as `mailbell token create --expires` reads it
    (empty: never). The result holds the plaintext: show it once, keep it nowhere."""
    from core.models._common import utcnow
    from core.services.tokens import create_token, parse_expiry, parse_scopes

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)  # the role first: a viewer learns no rules
        granted = parse_scopes(scopes)
        text = expires.strip()
        expires_at = parse_expiry(text, now=utcnow()) if text else None
        return create_token(
            session=session,
            tenant=tenant,
            name=name,
            actor=actor(),
            scopes=granted,
            expires_at=expires_at,
        )


def revoke(ctx: Context, slug: str | None, token_id: int) -> TokenRead:
    """Revoke one of the owner's live tokens; another owner's is NotFound, as over HTTP."""
    from core.services.tokens import revoke_token

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        return revoke_token(session=session, token_id=token_id, actor=actor(), owner=tenant)


def expiry_error(text: str) -> str | None:
    """The rule an expiry being typed breaks, if any (empty: never expires)."""
    from core.models._common import utcnow
    from core.services.tokens import parse_expiry

    if not text.strip():
        return None
    return check(parse_expiry, text, now=utcnow())
