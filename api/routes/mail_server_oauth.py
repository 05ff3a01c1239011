"""OAuth 2.0 authorization of a GMAIL / MS365 mail server over HTTP.

- `POST /api/v1/mail-servers/{id}/oauth/start` → `{"url", "state", "redirect_uri",
  "expires_in"}`: open `url` in a browser and accept;
- `POST /api/v1/mail-servers/{id}/oauth/complete` with `{"redirect_url"}` (the address the
  browser was sent to) or `{"code", "state"}` → `{"server_id", "tenant", "auth", "expires_at"}`;
  the tokens are stored encrypted on the server (core.services.oauth_authorization).

A started authorization (its PKCE verifier) is kept in this process's memory, by its state, for
`PENDING_TTL_S`: a restart, or another process of a scaled-out API, forgets it (start again). It
completes only for the server and owner that started it: another owner's state is unknown.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read
from api.body import read_body
from api.db import CONTEXT
from api.json_types import known_json_fields
from api.routes.mail_servers import BASE
from api.routes.v1_paging import path_id
from core import validation as v
from core.errors import ValidationError
from core.services.mail_servers import mail_server_row
from core.services.oauth_authorization import (
    OAuthStart,
    complete_authorization,
    start_authorization,
)

PENDING_TTL_S = 15 * 60  # a consent page left open longer is started again
PENDING_MAX = 1000  # bounded: the oldest is forgotten first
PENDING = web.AppKey("oauth_pending", OrderedDict)


def _pending(app: web.Application) -> OrderedDict[str, tuple[float, OAuthStart]]:
    found: OrderedDict[str, tuple[float, OAuthStart]] = app[PENDING]
    now = time.monotonic()
    while found and next(iter(found.values()))[0] < now - PENDING_TTL_S:
        found.popitem(last=False)
    return found


def _state_of(fields: dict[str, Any]) -> str:
    if "redirect_url" in fields:
        parts = urlsplit(fields["redirect_url"].strip())
        states = parse_qs(parts.query or parts.fragment).get("state")
        if not states:
            raise ValidationError(
                "redirect_url",
                "has no state (…?code=…&state=…): paste the whole address the browser was sent to",
            )
        return states[0]
    if not fields.get("state"):
        raise ValidationError("state", "is required with `code`: the state `start` returned")
    if not fields.get("code"):
        raise ValidationError("code", "is required: give the redirect URL, or the code and state")
    return str(fields["state"])


async def start(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    server_id = path_id(request, "mail server")

    def work(session: Session, scope: Scope) -> OAuthStart:
        return start_authorization(
            session=session, settings=ctx.settings, box=ctx.box, tenant=scope.tenant,
            server_id=server_id,
        )  # fmt: skip

    started = await scoped_read(request, work)
    pending = _pending(request.app)
    if len(pending) >= PENDING_MAX:
        pending.popitem(last=False)
    pending[started.state] = (time.monotonic(), started)
    return web.json_response(
        {
            "url": started.url,
            "state": started.state,
            "redirect_uri": started.redirect_uri,
            "expires_in": PENDING_TTL_S,
        }
    )


async def complete(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    server_id = path_id(request, "mail server")
    body = await read_body(request)

    def owned(session: Session, scope: Scope) -> Scope:
        mail_server_row(session=session, tenant=scope.tenant, server_id=server_id)  # else 404
        return scope

    scope = await scoped_read(request, owned)
    fields = known_json_fields(body.json_object(), OAuthComplete)
    state = _state_of(fields)
    pending = _pending(request.app)
    found = pending.get(state)
    owner = scope.tenant.id if scope.tenant is not None else None
    if found is None or found[1].server_id != server_id or found[1].tenant_id != owner:
        raise ValidationError(
            "state", "is unknown or expired for this server: start the authorization again"
        )

    done = await complete_authorization(
        ctx=ctx, start=found[1], actor=scope.actor,
        redirect_url=fields.get("redirect_url"), code=fields.get("code"),
    )  # fmt: skip
    pending.pop(state, None)  # a code is good once
    return web.json_response(
        {
            "server_id": done.server_id,
            "tenant": done.tenant,
            "auth": done.auth,
            "expires_at": done.expires_at.isoformat(),
        }
    )


class OAuthComplete(v.InputModel):
    """The body of `…/oauth/complete` (one of the two forms)."""

    redirect_url: str | None = None
    code: str | None = None
    state: str | None = None


def setup(app: web.Application) -> None:
    app[PENDING] = OrderedDict()
    app.router.add_post(BASE + "/{id:\\d+}/oauth/start", start)
    app.router.add_post(BASE + "/{id:\\d+}/oauth/complete", complete)
