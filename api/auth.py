"""Bearer tokens (DESIGN §4): `Authorization: Bearer <token>` on every `/api` endpoint.

- no token, or one that is unknown or revoked: 401; an expired one: 401 saying so;
- a token without the scope its route needs (`required_scope`): 403 naming it, in the body's
  `scope`;
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

import dataclasses
import functools
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlmodel import Session

from api.db import DATABASE, Answered, Batched
from api.errors import ApiError
from core import netfence
from core.errors import NotFound
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.services.token_identity import (
    TokenIdentity,
    identify_token,
    peek_token,
    token_digest,
)
from core.vocabulary import TokenScope

T = TypeVar("T")
P = TypeVar("P")

PUBLIC_PATHS = frozenset({"/api/openapi.yaml", "/api/openapi.json"})
MAX_TOKEN_LENGTH = 256
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mailbell"'}


# The scope each route needs, by one rule, so that a route added to any module gets the right
# one without a second list to keep in step: reads (GET, HEAD) need `read`, every other method
# `write`; except the routes in ROUTE_SCOPES, and everything under ADMIN_PATHS, which needs
# `admin`. Scopes imply nothing: a `write` token without `events` cannot ingest (an event
# emitter's token is `events` alone; a new token's default scopes are read, write and events).
ROUTE_SCOPES: dict[tuple[str, str], TokenScope] = {
    ("POST", "/api/events"): TokenScope.EVENTS,
    ("POST", "/api/v1/import"): TokenScope.ADMIN,
}
ADMIN_PATHS = ("/api/tokens", "/api/tenants", "/api/v1/tokens", "/api/v1/tenants")
READ_METHODS = frozenset({"GET", "HEAD"})


def required_scope(method: str, path: str) -> TokenScope:
    """The scope a request with `method` on the route `path` (its pattern, e.g.
    `/api/webhooks/{id}`) needs."""
    declared = ROUTE_SCOPES.get((method, path))
    if declared is not None:
        return declared
    if any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PATHS):
        return TokenScope.ADMIN
    return TokenScope.READ if method in READ_METHODS else TokenScope.WRITE


@dataclass(frozen=True)
class Credentials:
    token: str
    requested_tenant: str | None
    needs: TokenScope  # the route's scope (`required_scope`)


@dataclass(frozen=True)
class Scope:
    """Who is calling (the token) and on what: `tenant`, or the system when it is None.

    `tenant` is a row read in the request's session (or a detached copy of one): services read
    its fields; nothing adds it to a session.
    """

    token_name: str
    system_token: bool
    tenant: Tenant | None
    scopes: frozenset[TokenScope] = frozenset()  # all the token has, not only the route's

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


def _identity(session: Session, credentials: Credentials) -> tuple[TokenIdentity | None, bool]:
    """The token's identity (None: unknown, revoked or too long), and whether its last use is
    due to be stamped; nothing written."""
    plaintext = credentials.token
    found = (
        None
        if len(plaintext) > MAX_TOKEN_LENGTH
        else peek_token(session=session, plaintext=plaintext)
    )
    return found if found is not None else (None, False)


def resolve_scope(session: Session, credentials: Credentials) -> Scope:
    """The caller's scope, or ApiError 401 / 403 / 404 (unknown `?tenant=`), for a call with a
    session of its own (`scoped_read`, `scoped_write`). The token check is the call's first unit
    of work: a due last-use stamp is committed here, before the work, whatever its fate."""
    identity, stamp_due = _identity(session, credentials)
    if stamp_due:
        stamp_last_use(session, credentials)
        session.commit()
    return _scope_of(session, credentials, identity)


def peek_scope(session: Session, credentials: Credentials) -> tuple[Scope, bool]:
    """`resolve_scope` that writes nothing, for threads that must not write (the preparing
    threads of `Database.prepared_write`): the scope, and whether the token's last use is due
    to be stamped (`stamp_last_use`, on the writer)."""
    identity, stamp_due = _identity(session, credentials)
    return _scope_of(session, credentials, identity), stamp_due


def stamp_last_use(session: Session, credentials: Credentials) -> None:
    """Stamp the token's last use in the session's transaction (never committed here: the
    caller's unit of work carries it). Once a minute: a token stamped meanwhile, by this
    transaction or a committed one, is not stamped again."""
    # A token revoked since it was checked is not stamped; its request goes on, as if it had
    # arrived a moment earlier.
    identify_token(session=session, plaintext=credentials.token)


def _scope_of(session: Session, credentials: Credentials, identity: TokenIdentity | None) -> Scope:
    requested = credentials.requested_tenant
    if identity is None:
        raise ApiError(401, "invalid or revoked API token", headers=CHALLENGE)
    expires = identity.expires_at
    if expires is not None and expires <= utcnow():
        raise ApiError(
            401,
            f"this API token expired at {expires.isoformat(timespec='seconds')}: ask for a new one",
            headers=CHALLENGE,
        )
    needs = credentials.needs
    if needs not in identity.scopes:
        raise ApiError(
            403, f"this token lacks the scope {needs.value!r}", extra={"scope": needs.value}
        )
    own = identity.tenant
    if own is not None:
        if requested is not None and requested != own.slug:
            raise ApiError(
                403,
                f"this token belongs to tenant {own.slug!r}: it cannot act on tenant "
                f"{requested[:63]!r}",
                field="tenant",
            )
        return Scope(identity.name, False, own, identity.scopes)
    if requested is None:
        return Scope(identity.name, True, None, identity.scopes)
    try:
        tenant = get_tenant(session=session, slug=requested)
    except NotFound as exc:
        raise ApiError(404, exc.message, field="tenant") from None
    return Scope(identity.name, True, tenant, identity.scopes)


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


async def fenced_scope(request: web.Request, hosts: Callable[[], Iterable[Any]]) -> Scope:
    """The caller's scope; for a tenant token, the `hosts()` its write will name (read after
    the token check: a caller without a token learns nothing of its body) resolved ahead, off
    the writer thread, so that the write's own fence check finds them cached."""
    scope = await scoped_read(request, lambda _session, scope: scope)
    if scope.actor.tenant_scoped:
        for host in hosts():
            await netfence.prefetch(host)
    return scope


async def scoped_prepared_write(
    request: web.Request,
    prepare: Callable[[Session, Scope], P | Answered],
    write: Callable[[Session, Scope, P], T | Batched],
) -> T:
    """Check the token, then `prepare(session, scope)`, in one call on a preparing thread
    (`Database.prepared_write`, tenants taking turns); then `write(session, scope, prepared)`
    on the writer thread, possibly in one transaction with other requests' writes. `write`
    never commits: it writes in the session it is given, or hands its rows back as a `Batched`,
    and the group (or, run alone, the Database) commits. An `Answered` from `prepare` is the
    answer.

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

    def second(session: Session, first: tuple[Scope, bool, P | Answered]) -> T | Batched:
        scope, stamp_due, prepared = first
        if stamp_due:
            stamp_last_use(session, credentials)
        if isinstance(prepared, Answered):
            return cast(T, prepared.value)
        result = write(session, scope, prepared)
        if isinstance(result, Batched):
            conflict = functools.partial(_on_conflict, result.on_conflict, credentials)
            return dataclasses.replace(result, on_conflict=conflict)
        return result

    return cast(T, await request.app[DATABASE].prepared_write(turn, first, second))


def _on_conflict(
    found: Callable[[Session, Any], Any | None] | None,
    credentials: Credentials,
    session: Session,
    item: Any,
) -> Any | None:
    """A write run alone broke a key (its transaction rolled back): the write's own answer
    (`found`: an idempotency key written meanwhile), else, when the tenant and its tokens were
    deleted since the check, 401 as if the request had come after, not the foreign key's
    error."""
    answer = found(session, item) if found is not None else None
    if answer is None:
        peek_scope(session, credentials)
    return answer


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
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else request.path
        request[CREDENTIALS] = Credentials(
            bearer_token(request),
            request.query.get("tenant") or None,
            required_scope(request.method, path),
        )
    return await handler(request)
