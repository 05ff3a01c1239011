"""`POST /api/events {"event", "data", "key"}` → 202 with the deliveries, committed first.

The event is recorded and its deliveries queued in one transaction (`core.pipeline.emit`)
before the answer is sent: a 202 is durable. Events arriving together share one transaction
(group commit, `api.db`), each answered only after it committed. A repeated `key` answers the
first emit's deliveries with `"duplicate": true` and queues nothing. Tenant events act on the
token's tenant (or `?tenant=` with a system token); system events need a system token without
`?tenant=`.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_grouped_write
from api.body import OBJECT, STRING, read_body, typed_fields
from api.db import CONTEXT, Batched
from api.errors import ApiError
from core import validation as v
from core.catalog import NAMES, Event, get_event
from core.errors import ValidationError
from core.pipeline.emit import EmitResult, emit, prepare_emit, write_emits
from core.services.deliveries import delivery_public

EVENT_TYPES = {"event": STRING, "data": OBJECT, "key": STRING}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in row.items()
    }


def _check_scope(event: Event, scope: Scope) -> None:
    if event.scope == "system" and not scope.system_token:
        raise ApiError(
            403,
            f"{event.name} is a system event: post it with a system token (without ?tenant=)",
            field="event",
        )
    if event.scope == "system" and not scope.is_system:
        raise ValidationError(
            "event", f"{event.name} is a system event: post it without ?tenant= (system scope)"
        )
    if event.scope == "tenant" and scope.is_system:
        raise ValidationError(
            "tenant",
            f"{event.name} is a tenant event: name the tenant with ?tenant=SLUG "
            "(or use the tenant's token)",
        )


def _answer(result: EmitResult, *, tenant_slug: str | None) -> dict[str, Any]:
    return {
        "event_id": result.event_id,
        "duplicate": result.duplicate,
        "deliveries": [
            _jsonable(delivery_public(d, tenant_slug=tenant_slug)) for d in result.deliveries
        ],
    }


async def post_event(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    raw = await read_body(request)

    def work(session: Session, scope: Scope, commit: bool) -> dict[str, Any] | Batched:
        body = typed_fields(raw.json_object(), EVENT_TYPES)
        v.known_fields(body, EVENT_TYPES)
        if "event" not in body:
            raise ValidationError("event", f"is required: one of {', '.join(NAMES)}")
        event = get_event(body["event"], field="event")
        _check_scope(event, scope)
        answer = functools.partial(_answer, tenant_slug=scope.tenant_slug)
        what: dict[str, Any] = {
            "session": session,
            "box": ctx.box,
            "tenant": scope.tenant,
            "event": event.name,
            "data": body.get("data", {}),
            "key": body.get("key"),
        }
        if commit:  # alone: emit writes, commits, and answers a key raced by another process
            return answer(emit(**what))
        prepared = prepare_emit(**what)
        if isinstance(prepared, EmitResult):  # a repeated key: nothing to write
            return answer(prepared)
        return Batched(item=prepared, write_many=write_emits, finish=answer)

    return web.json_response(await scoped_grouped_write(request, work), status=202)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/events", post_event)
