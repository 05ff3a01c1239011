"""Bearer tokens (DESIGN §4): `Authorization: Bearer <token>` on every `/api` endpoint.

- no token, or one that is unknown or revoked: 401;
- a tenant token acts on its own tenant; `?tenant=` naming another tenant is 403;
- a system token acts on the system scope, or on the tenant named by `?tenant=SLUG` (404 when
  no such tenant).

`/api/openapi.yaml`, `/healthz` and `/metrics` need no token. The middleware refuses a missing or
malformed header at once; the token itself is checked in the same database call as the request's
work (`scoped_read` / `scoped_write`: one thread hop), before the body is looked at, so an
unauthorised request learns nothing about its body and changes nothing. `scoped_prepared_write`
checks it on a preparing thread, where nothing is written (`peek_scope`): the token's last use
is then stamped by the request's write, on the writer thread.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC
from typing import TypeVar, cast

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from api.db import DATABASE, Answered
from api.errors import ApiError
from core.errors import NotFound
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.services.tokens import (
    LAST_USED_RESOLUTION,
    LOOKUP_LENGTH,
    TOKEN_PREFIX,
    TokenIdentity,
    identify_token,
)

# The token service's own digest and lookup query, so that `_peek_token` checks a token exactly
# as `identify_token` does.
from core.services.tokens import _digest as token_digest
from core.services.tokens import _identify_statement as identify_statement

T = TypeVar("T")
P = TypeVar("P")

PUBLIC_PATHS = frozenset({"/api/openapi.yaml"})
MAX_TOKEN_LENGTH = 256
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mailbell"'}


@dataclass(frozen=True)
class Credentials:
    token: str
    requested_tenant: str | None


@dataclass(frozen=True)
class Scope:
    """Who is calling (the token) and on what: `tenant`, or the system when it is None.

    `tenant` is a row read in the request's session (or a detached copy of one): services read
    its fields; nothing adds it to a session.
    """

    token_name: str
    system_token: bool
    tenant: Tenant | None

    @property
    def actor(self) -> Actor:
        return Actor(
            name=f"token:{self.token_name}", source="api", tenant_scoped=not self.system_token
        )

    @property
    def is_system(self) -> bool:
        return self.tenant is None

    @property
    def tenant_slug(self) -> str | None:
        return self.tenant.slug if self.tenant is not None else None


CREDENTIALS = web.RequestKey("credentials", Credentials)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not header:
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=CHALLENGE
        )
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "the Authorization header must be 'Bearer <token>'", headers=CHALLENGE)
    # Tokens are printable ASCII. Header bytes that are not UTF-8 reach us as lone surrogates
    # (surrogateescape), which no database driver can encode: refuse them here, unlooked-up.
    if not (token.isascii() and token.isprintable()):
        raise ApiError(401, "invalid or revoked API token", headers=CHALLENGE)
    return token


def resolve_scope(session: Session, credentials: Credentials, *, commit: bool = True) -> Scope:
    """The caller's scope, or ApiError 401 / 403 / 404 (unknown `?tenant=`)."""
    plaintext = credentials.token
    identity = (
        identify_token(session=session, plaintext=plaintext, commit=commit)
        if len(plaintext) <= MAX_TOKEN_LENGTH
        else None
    )
    return _scope_of(session, credentials, identity)


def peek_scope(session: Session, credentials: Credentials) -> tuple[Scope, bool]:
    """`resolve_scope` that writes nothing, for threads that must not write (the preparing
    threads of `Database.prepared_write`): the scope, and whether the token's last use is due
    to be stamped (`stamp_last_use`, on the writer)."""
    plaintext = credentials.token
    found = _peek_token(session, plaintext) if len(plaintext) <= MAX_TOKEN_LENGTH else None
    identity, stamp_due = found if found is not None else (None, False)
    return _scope_of(session, credentials, identity), stamp_due


def stamp_last_use(session: Session, credentials: Credentials, *, commit: bool) -> None:
    """Stamp the token's last use, as `resolve_scope` would have (once a minute: a token
    stamped meanwhile, by this transaction or a committed one, is not stamped again)."""
    # A token revoked since it was checked is not stamped; its request goes on, as if it had
    # arrived a moment earlier.
    identify_token(session=session, plaintext=credentials.token, commit=commit)


def _peek_token(session: Session, plaintext: str) -> tuple[TokenIdentity, bool] | None:
    """`identify_token`'s check without its write: the same query and constant-time compare;
    whether `last_used_at` is older than its resolution instead of stamping it. (A stamp here
    would be a write on a preparing thread, waiting for the writer's lock and making the
    writer wait for it; rolled back, it would be lost.)"""
    digest = token_digest(plaintext)
    peeked = _peeked_in_transaction(session)
    if digest not in peeked:
        peeked[digest] = _peek_digest(session, plaintext, digest)
    return peeked[digest]


_PEEKED = "mailbell.api.tokens_peeked"


def _peeked_in_transaction(session: Session) -> dict[str, tuple[TokenIdentity, bool] | None]:
    """Tokens peeked in the session's current transaction (a preparing thread prepares a
    turn's requests in one): a token is looked up once per transaction, as `identify_token`
    does on the writer."""
    session.connection()  # begins the transaction, so that it has an identity
    transaction = session.get_transaction()
    held = session.info.get(_PEEKED)
    if held is None or held[0] is not transaction:
        held = session.info[_PEEKED] = (transaction, {})
    peeked: dict[str, tuple[TokenIdentity, bool] | None] = held[1]
    return peeked


def _peek_digest(
    session: Session, plaintext: str, digest: str
) -> tuple[TokenIdentity, bool] | None:
    prefix = plaintext[: len(TOKEN_PREFIX) + LOOKUP_LENGTH]
    rows = session.connection().execute(identify_statement(), {"prefix": prefix}).all()
    for token_id, name, token_hash, last_used, tenant_id, slug, tenant_name, created in rows:
        if not hmac.compare_digest(token_hash, digest):
            continue
        tenant = None
        if tenant_id is not None:
            if slug is None:
                return None  # its tenant is gone
            tenant = Tenant(id=tenant_id, slug=slug, name=tenant_name, created_at=created)
            make_transient_to_detached(tenant)
        if last_used is not None and last_used.tzinfo is None:
            last_used = last_used.replace(tzinfo=UTC)
        stamp_due = last_used is None or utcnow() - last_used >= LAST_USED_RESOLUTION
        return TokenIdentity(id=token_id, name=name, tenant=tenant), stamp_due
    return None


def _scope_of(session: Session, credentials: Credentials, identity: TokenIdentity | None) -> Scope:
    requested = credentials.requested_tenant
    if identity is None:
        raise ApiError(401, "invalid or revoked API token", headers=CHALLENGE)
    own = identity.tenant
    if own is not None:
        if requested is not None and requested != own.slug:
            raise ApiError(
                403,
                f"this token belongs to tenant {own.slug!r}: it cannot act on tenant "
                f"{requested[:63]!r}",
                field="tenant",
            )
        return Scope(identity.name, False, own)
    if requested is None:
        return Scope(identity.name, True, None)
    try:
        tenant = get_tenant(session=session, slug=requested)
    except NotFound as exc:
        raise ApiError(404, exc.message, field="tenant") from None
    return Scope(identity.name, True, tenant)


async def scoped_read(request: web.Request, work: Callable[[Session, Scope], T]) -> T:
    """Check the token, then `work(session, scope)`, in one call on a reader thread."""
    credentials = request[CREDENTIALS]
    return await request.app[DATABASE].read(
        lambda session: work(session, resolve_scope(session, credentials))
    )


async def scoped_write(request: web.Request, work: Callable[[Session, Scope], T]) -> T:
    """Check the token, then `work(session, scope)`, in one call on the writer thread."""
    credentials = request[CREDENTIALS]
    return await request.app[DATABASE].write(
        lambda session: work(session, resolve_scope(session, credentials))
    )


async def scoped_prepared_write(
    request: web.Request,
    prepare: Callable[[Session, Scope], P | Answered],
    write: Callable[[Session, Scope, P, bool], T],
) -> T:
    """Check the token, then `prepare(session, scope)`, in one call on a preparing thread
    (`Database.prepared_write`, tenants taking turns); then `write(session, scope, prepared,
    commit)` on the writer thread, possibly in one transaction with other requests' writes:
    `write` commits only when `commit` is True. An `Answered` from `prepare` is the answer.

    The preparing thread writes nothing (`peek_scope`): the token's last use is stamped by the
    write, in its transaction, when it is due.
    """
    credentials = request[CREDENTIALS]
    digest = token_digest(credentials.token)
    turn = _turns.get((digest, credentials.requested_tenant), digest)

    def first(session: Session) -> tuple[Scope, bool, P | Answered] | Answered:
        scope, stamp_due = peek_scope(session, credentials)
        _learn_turn(digest, credentials, scope)
        prepared = prepare(session, scope)
        if isinstance(prepared, Answered) and not stamp_due:
            return prepared  # nothing to write: the writer is not involved
        return scope, stamp_due, prepared

    def second(session: Session, commit: bool, first: tuple[Scope, bool, P | Answered]) -> T:
        scope, stamp_due, prepared = first
        if stamp_due:
            stamp_last_use(session, credentials, commit=commit)
        if isinstance(prepared, Answered):
            return cast(T, prepared.value)
        try:
            return write(session, scope, prepared, commit)
        except IntegrityError:
            if not commit:
                raise  # the group runs each of its calls again alone
            # The tenant (and its tokens) may have been deleted since the check: answer as if
            # the request had come after (401), not with the foreign key's error.
            session.rollback()
            resolve_scope(session, credentials)
            raise

    return await request.app[DATABASE].prepared_write(turn, first, second)


# Which tenant a token acted on when it was last checked, for `scoped_prepared_write`: tenants,
# not tokens, take turns on the preparing threads (a tenant holding several tokens gets one
# turn). A hint for fairness only, never for access: a token not seen yet takes turns as itself.
_turns: dict[tuple[str, str | None], Hashable] = {}
_MAX_TURNS = 10_000


def _learn_turn(digest: str, credentials: Credentials, scope: Scope) -> None:
    if len(_turns) >= _MAX_TURNS:
        _turns.clear()  # bounded: unknown tokens cannot make it grow; it refills as they come
    owner = scope.tenant.id if scope.tenant is not None else None
    _turns[(digest, credentials.requested_tenant)] = ("owner", owner)


def _needs_token(request: web.Request) -> bool:
    if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
        return False
    # unknown paths and methods answer 404/405 whoever asks
    return request.match_info.http_exception is None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _needs_token(request):
        request[CREDENTIALS] = Credentials(
            bearer_token(request), request.query.get("tenant") or None
        )
    return await handler(request)
