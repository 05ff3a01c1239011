"""Bearer tokens (DESIGN §4): `Authorization: Bearer <token>` on every `/api` endpoint.

- no token, or one that is unknown or revoked: 401;
- a tenant token acts on its own tenant; `?tenant=` naming another tenant is 403;
- a system token acts on the system scope, or on the tenant named by `?tenant=SLUG` (404 when
  no such tenant).

`/api/openapi.yaml`, `/healthz` and `/metrics` need no token. The middleware refuses a missing or
malformed header at once; the token itself is checked in the same database call as the request's
work (`scoped_read` / `scoped_write`: one thread hop), before the body is looked at, so an
unauthorised request learns nothing about its body and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlmodel import Session

from api.db import DATABASE
from api.errors import ApiError
from core.errors import NotFound
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.services.tokens import identify_token

T = TypeVar("T")

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
    plaintext, requested = credentials.token, credentials.requested_tenant
    identity = (
        identify_token(session=session, plaintext=plaintext, commit=commit)
        if len(plaintext) <= MAX_TOKEN_LENGTH
        else None
    )
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


async def scoped_grouped_write(
    request: web.Request, work: Callable[[Session, Scope, bool], T]
) -> T:
    """`scoped_write` for work that may share one transaction with other requests' work
    (`Database.grouped_write`): `work(session, scope, commit)` commits only when `commit`."""
    credentials = request[CREDENTIALS]
    return await request.app[DATABASE].grouped_write(
        lambda session, commit: work(
            session, resolve_scope(session, credentials, commit=commit), commit
        )
    )


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
