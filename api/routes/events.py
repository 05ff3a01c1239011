"""`POST /api/events {"event", "data", "key"}` → 202 with the deliveries, committed first.

The event is recorded and its deliveries queued in one transaction (`core.pipeline.emit`)
before the answer is sent: a 202 is durable. A request is handled in two steps
(`api.auth.scoped_prepared_write`): on a preparing thread, the token check, then the body's
checks and `prepare_emit` (validation, toggle, configuration, rendering, encryption); on the
writer thread, only the key checked again and the rows written. Rendering, up to 250 ms for a
tenant's own template, thus never runs on the writer, where it would hold up every tenant's
events. Events arriving together share one transaction (group commit, `api.db`), each answered
only after it committed. A repeated `key` answers the first emit's deliveries with
`"duplicate": true` and queues nothing, also when both were prepared at once. Tenant events
act on the token's tenant (or `?tenant=` with a system token); system events need a system
token without `?tenant=`.

A voicemail whose recording is given as a URL has it fetched first, on the event loop, after a
token check of its own (`_fetched`): a failed fetch leaves the recording out and says why
(core/attachments/fetch.py). A tenant token's URL is fenced like its webhook URLs.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Scope, scoped_prepared_write, scoped_read
from api.body import Body, read_body
from api.db import CONTEXT, Answered, Batched
from api.errors import ApiError
from api.json_types import known_json_fields
from core.attachments.fetch import fetch_payload_files, wants_fetch
from core.catalog import NAMES, Event, get_event
from core.errors import ValidationError
from core.pipeline.emit import (
    KEY_MAX_LENGTH,
    EmitResult,
    PreparedEmit,
    find_repeated,
    prepare_emit,
    write_emits,
)
from core.services.deliveries import delivery_public
from core.vocabulary import EventName


class EventRequest(BaseModel):
    """`POST /api/events`: the event's name, its payload (checked against the event's payload
    model by `prepare_emit`) and an optional idempotency key (at most 200 characters)."""

    model_config = ConfigDict(extra="forbid")

    event: EventName
    data: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(default=None, max_length=KEY_MAX_LENGTH)


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


# What every body with a recording to fetch holds (a cheap filter: most events have none).
_FETCH_MARKER = b'"url"'
_FETCH_EVENT = EventName.VOICEMAIL_RECEIVED.value.encode()


async def _fetched(request: web.Request, raw: Body) -> dict[str, Any] | None:
    """The event's data with its recording fetched, or None when there is nothing to fetch.

    The token is checked first (nothing is fetched for a caller that may not post events);
    a tenant-scoped caller's URL is fenced."""
    if _FETCH_MARKER not in raw.raw or _FETCH_EVENT not in raw.raw.upper():
        return None

    def check(session: Session, scope: Scope) -> tuple[str, dict[str, Any], bool] | None:
        body = raw.json_object()
        event, data = body.get("event"), body.get("data")
        if not isinstance(event, str) or not isinstance(data, dict):
            return None
        return (event, data, not scope.system_token) if wants_fetch(event, data) else None

    found = await scoped_read(request, check)
    if found is None:
        return None
    event, data, fenced = found
    return await fetch_payload_files(event, data, fenced=fenced)


async def post_event(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    raw = await read_body(request)
    fetched = await _fetched(request, raw)

    def prepare(session: Session, scope: Scope) -> PreparedEmit | Answered:
        """On a preparing thread, after the token check: everything but the writes."""
        body = known_json_fields(raw.json_object(), EventRequest)
        if "event" not in body:
            raise ValidationError("event", f"is required: one of {', '.join(NAMES)}")
        event = get_event(body["event"], field="event")
        _check_scope(event, scope)
        prepared = prepare_emit(
            session=session,
            box=ctx.box,
            tenant=scope.tenant,
            event=event.name,
            data=fetched if fetched is not None else body.get("data", {}),
            key=body.get("key"),
        )
        if isinstance(prepared, EmitResult):  # a repeated key: nothing to write
            return Answered(_answer(prepared, tenant_slug=scope.tenant_slug))
        return prepared

    def write(session: Session, scope: Scope, prepared: PreparedEmit) -> dict[str, Any] | Batched:
        """On the writer thread: the key checked again, then the rows, nothing else (never a
        commit: the group's, or the call's own when it runs alone, is the Database's).

        The event was validated and rendered with the configuration (toggle, server, template)
        of a moment ago; a change committed since is not applied to it, as if the event had
        arrived just before the change.
        """
        answer = functools.partial(_answer, tenant_slug=scope.tenant_slug)
        # Another request with the key may have committed since this one was prepared. Two
        # with the same key in one group both pass here; the batch's INSERT then breaks the
        # key's unique index, the group is rolled back and each runs again alone, where the
        # second finds the first's deliveries. Alone, a key another process wrote between this
        # check and the commit breaks the index too: `on_conflict` then answers with the first
        # emit's deliveries.
        found = find_repeated(session, prepared)
        if found is not None:
            return answer(found)
        return Batched(
            item=prepared, write_many=write_emits, finish=answer, on_conflict=find_repeated
        )

    return web.json_response(await scoped_prepared_write(request, prepare, write), status=202)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/events", post_event)
