"""`/api/v1/audit`: who changed what, from where, each field's value before and after.

- `GET /api/v1/audit?actor=&source=&action=&since=&until=&limit=&cursor=`: newest first, a page
  at a time (`{"items", "next_cursor"}`, keyset on the id);
- `GET /api/v1/audit/export?since=&…`: every matching entry as JSON Lines, oldest first,
  streamed in batches (the log of any size, never whole in memory).

A tenant token sees its tenant's entries only; a system token every entry, or with `?tenant=`
that tenant's (deleted tenants' entries stay, under their slug).
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read
from api.db import DATABASE
from api.routes.v1_paging import before_id_of, limit_of, page, text_of, time_of
from core.models.audit import AuditEntryRead
from core.services.audit import EXPORT_BATCH
from core.services.audit_pages import PAGE_MAX, AuditFilter, audit_batch, audit_page


def _filter(request: web.Request) -> AuditFilter:
    return AuditFilter(
        actor=text_of(request, "actor"),
        source=text_of(request, "source", most=8),
        action=text_of(request, "action", most=64),
        since=time_of(request, "since"),
        until=time_of(request, "until"),
    ).checked()


def _owned(request: web.Request, scope: Scope) -> AuditFilter:
    return replace(_filter(request), tenant=scope.tenant_slug)


def row(entry: AuditEntryRead) -> dict[str, Any]:
    """An entry as `mailbell audit export` writes it."""
    return entry.model_dump(mode="json", exclude={"fields"})


async def list_page(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        # the query is judged after the token check: a caller without a token learns nothing
        which, limit = _owned(request, scope), limit_of(request, most=PAGE_MAX)
        before = before_id_of(request)
        entries = audit_page(session=session, which=which, before_id=before, limit=limit)
        return page([row(e) for e in entries], [e.id for e in entries], limit)

    return web.json_response(await scoped_read(request, work))


def _batch(session: Session, *, which: AuditFilter, after_id: int) -> list[AuditEntryRead]:
    return audit_batch(session=session, which=which, after_id=after_id, batch=EXPORT_BATCH)


async def export(request: web.Request) -> web.StreamResponse:
    # The token is checked once, before the first byte; each batch is then a read of its own.
    owned = await scoped_read(request, lambda _session, scope: _owned(request, scope))
    database = request.app[DATABASE]
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    after = 0
    while True:
        batch = await database.read(functools.partial(_batch, which=owned, after_id=after))
        if batch:
            lines = "".join(json.dumps(row(e), ensure_ascii=False) + "\n" for e in batch)
            await response.write(lines.encode())
        if len(batch) < EXPORT_BATCH:
            break
        after = batch[-1].id
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/audit", list_page)
    app.router.add_get("/api/v1/audit/export", export)
