"""The caller's webhooks: events POSTed as signed JSON to a URL.

- `GET /api/webhooks`: the list (never a secret: `has_secret` says whether one is set);
- `POST /api/webhooks {"url", "secret"?, "events"?}`: add one → 201 with it;
- `DELETE /api/webhooks/{id}`: remove one → 200 with what was removed;
- `POST /api/webhooks/{id}/test`: POST a signed sample event now → 200 `{"ok", "status",
  "detail"}` (`ok` false when the receiver refused or did not answer; nothing is stored).

The owner is the token's tenant, or the system for a system token without `?tenant=`; another
owner's id is 404. A tenant token's URL must point at hosts MAILBELL_TENANT_SMTP_NETWORKS
allows (400 naming `url`); the host is resolved before the write, off the writer thread, so
that the write's own check finds it cached.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, fenced_scope, scoped_read, scoped_write
from api.body import read_body
from api.db import CONTEXT
from api.json_types import known_json_fields
from api.routes.v1_paging import path_id
from core.errors import ValidationError
from core.models.webhooks import WebhookCreate, WebhookRead
from core.services.webhooks import (
    add_webhook,
    list_webhooks,
    remove_webhook,
    test_webhook,
)

READ_ONLY = ("id", "tenant", "has_secret", "created_at")


def _public(hook: WebhookRead) -> dict[str, Any]:
    return hook.model_dump(mode="json")


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError("events", "must be a JSON array of event names (strings)")
    return list(value)


def _host(fields: dict[str, Any]) -> str | None:
    url = fields.get("url")
    try:
        return urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        return None


async def list_hooks(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> list[dict[str, Any]]:
        return [_public(hook) for hook in list_webhooks(session=session, tenant=scope.tenant)]

    return web.json_response(await scoped_read(request, work))


async def create_hook(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request)
    await fenced_scope(request, lambda: (_host(body.json_object()),))

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        given = body.json_object()
        if given.get("secret") is not None and not isinstance(given["secret"], str):
            # not json_fields' message: that one repeats the value it refuses
            raise ValidationError("secret", "must be a JSON string")
        fields = known_json_fields(given, WebhookCreate, read_only=READ_ONLY)
        if "url" not in fields:
            raise ValidationError("url", "is required: the http(s) URL that receives the POSTs")
        data = WebhookCreate(
            url=fields["url"],
            secret=fields.get("secret"),
            events=_events(fields["events"]) if "events" in fields else [],
        )
        hook = add_webhook(
            session=session, box=ctx.box, tenant=scope.tenant, data=data, actor=scope.actor
        )
        return _public(hook)

    return web.json_response(await scoped_write(request, work), status=201)


async def delete_hook(request: web.Request) -> web.Response:
    webhook_id = path_id(request, "webhook")

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        removed = remove_webhook(
            session=session, tenant=scope.tenant, webhook_id=webhook_id, actor=scope.actor
        )
        return _public(removed)

    return web.json_response(await scoped_write(request, work))


async def post_test(request: web.Request) -> web.Response:
    webhook_id = path_id(request, "webhook")
    scope = await scoped_read(request, lambda _session, scope: scope)
    result = await test_webhook(
        ctx=request.app[CONTEXT], tenant=scope.tenant, webhook_id=webhook_id
    )
    return web.json_response(result.model_dump(mode="json"))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/webhooks", list_hooks)
    app.router.add_post("/api/webhooks", create_hook)
    app.router.add_delete("/api/webhooks/{id}", delete_hook)
    app.router.add_post("/api/webhooks/{id}/test", post_test)
