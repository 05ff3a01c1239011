"""`/api/v1/deliveries` and `/api/v1/events/{id}`: the delivery log over HTTP.

- `GET /api/v1/deliveries?status=&event=&since=&limit=&cursor=`: newest first, a page at a time
  (`{"items", "next_cursor"}`; the cursor is a keyset on the id: a deep page costs what the
  first does);
- `GET /api/v1/deliveries/{id}`: one delivery with its recipients' outcomes and every attempt;
- `POST /api/v1/deliveries/{id}/retry`: queue a failed delivery again → its detail;
- `POST /api/v1/deliveries/{id}/resend {"to"?}`: queue a new copy of a finished one → 201 with
  the copy;
- `GET /api/v1/events/{id}`: an emitted event (payload with secrets redacted) and its
  deliveries.

Whose: a tenant token sees its tenant's, a system token with `?tenant=` that tenant's, and a
system token alone every delivery and event (the operator's view, as `mailbell deliveries`).
Another tenant's id is 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.db import CONTEXT
from api.json_types import known_json_fields
from api.routes.v1_paging import before_id_of, limit_of, page, path_id, text_of, time_of
from core.services.deliveries import (
    PAGE_MAX,
    delivery_log,
    read_delivery,
    retry_delivery,
)
from core.services.event_log import read_event
from core.services.resend import resend_delivery


class ResendBody(BaseModel):
    to: str | None = Field(default=None, max_length=320)


def _detail(session: Session, scope: Scope, delivery_id: int) -> dict[str, Any]:
    detail = read_delivery(session=session, delivery_id=delivery_id, tenant=scope.tenant)
    return detail.model_dump(mode="json")


async def list_page(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        # the query is judged after the token check: a caller without a token learns nothing
        limit, before = limit_of(request, most=PAGE_MAX), before_id_of(request)
        since = time_of(request, "since")
        status, event = text_of(request, "status", most=20), text_of(request, "event", most=40)
        rows = delivery_log(
            session=session, tenant=scope.tenant, status=status, event=event,
            before_id=before, limit=limit, since=since,
        )  # fmt: skip
        return page([row.model_dump(mode="json") for row in rows], [r.id for r in rows], limit)

    return web.json_response(await scoped_read(request, work))


async def read_one(request: web.Request) -> web.Response:
    delivery_id = path_id(request, "delivery")
    return web.json_response(
        await scoped_read(request, lambda session, scope: _detail(session, scope, delivery_id))
    )


async def retry(request: web.Request) -> web.Response:
    delivery_id = path_id(request, "delivery")
    box = request.app[CONTEXT].box

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        retry_delivery(
            session=session, box=box, delivery_id=delivery_id, actor=scope.actor,
            tenant=scope.tenant,
        )  # fmt: skip
        return _detail(session, scope, delivery_id)

    return web.json_response(await scoped_write(request, work))


async def resend(request: web.Request) -> web.Response:
    delivery_id = path_id(request, "delivery")
    box = request.app[CONTEXT].box
    body = await read_body(request) if request.can_read_body else None

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        fields = known_json_fields(body.json_object(), ResendBody) if body is not None else {}
        copy = resend_delivery(
            session=session, box=box, delivery_id=delivery_id, actor=scope.actor,
            tenant=scope.tenant, to=fields.get("to"),
        )  # fmt: skip
        return copy.model_dump(mode="json")

    return web.json_response(await scoped_write(request, work), status=201)


async def read_event_detail(request: web.Request) -> web.Response:
    event_id = path_id(request, "event")

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        return read_event(session=session, event_id=event_id, tenant=scope.tenant).model_dump(
            mode="json"
        )

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/deliveries", list_page)
    app.router.add_get("/api/v1/deliveries/{id}", read_one)
    app.router.add_post("/api/v1/deliveries/{id}/retry", retry)
    app.router.add_post("/api/v1/deliveries/{id}/resend", resend)
    app.router.add_get("/api/v1/events/{id}", read_event_detail)
