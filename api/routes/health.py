"""`GET /api/health`: the health watch's states (`mailbell health --json` rows).

A tenant token sees its tenant's subjects only (its servers, accounts, Slack routes, backlog);
a system token sees every subject, or one tenant's with `?tenant=SLUG`. Rows carry the
contract's six fields: a tenant never learns another tenant's slug, server or address.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read
from core.services.health import get_health


async def list_states(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> list[dict[str, Any]]:
        return [read.wire() for read in get_health(session=session, tenant=scope.tenant)]

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/health", list_states)
