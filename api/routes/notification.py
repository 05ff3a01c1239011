"""`GET|POST /api/tenant/notification`, `POST /api/tenant/notification/test_email`.

The settings object is the flat one of `core.services.notifications` (the reference's fields
plus DESIGN's extensions); `password` is never returned. A system token without `?tenant=` reads
and writes the system settings. POST is a partial update and answers 200 with the new object.

Tenant tokens are fenced (core/netfence.py): `ca_file` is 403 (they send `ca_pem`, PEM text,
read back as given), and `server` must resolve to addresses MAILBELL_TENANT_SMTP_NETWORKS
allows (400 naming `server`). The host is resolved before the write, off the writer thread, so
that the write's own check finds it cached.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import BOOLEAN, INTEGER, NUMBER, STRING, read_body, typed_fields
from api.db import CONTEXT
from api.errors import ApiError
from core import netfence
from core import validation as v
from core.models.tenancy import SYSTEM_TOGGLES, TENANT_TOGGLES
from core.services.mail_server_fields import SystemOnlyField
from core.services.notifications import (
    get_notification_settings,
    get_system_settings,
    update_notification_settings,
    update_system_settings,
)

SETTINGS_TYPES: dict[str, str] = {
    "type": STRING,
    "server": STRING,
    "port": INTEGER,
    "reply_to": STRING,
    "username": STRING,
    "password": STRING,
    "auth": STRING,
    "enable_tls_ssl": BOOLEAN,
    "enable_starttls_auto": BOOLEAN,
    "recipients": STRING,
    "mail_from": STRING,
    "security": STRING,
    "tls_verify": BOOLEAN,
    "ca_file": STRING,
    "ca_pem": STRING,
    "timeout": NUMBER,
    "rate_limit_per_minute": INTEGER,
    "apply_to_all_tenants": BOOLEAN,
    **dict.fromkeys(TENANT_TOGGLES, BOOLEAN),
    **dict.fromkeys(SYSTEM_TOGGLES, BOOLEAN),
}
# Returned by GET, not settable: ignored when a client posts back what it read.
READ_ONLY = ("effective_mail_server",)
TEST_EMAIL_FIELDS = ("recipient", "subject", "content")


async def get_settings(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        if scope.tenant is None:
            return get_system_settings(session=session)
        return get_notification_settings(session=session, tenant=scope.tenant)

    return web.json_response(await scoped_read(request, work))


async def post_settings(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request)
    scope = await scoped_read(request, lambda _session, scope: scope)
    if scope.actor.tenant_scoped:
        host = body.json_object().get("server")
        await netfence.prefetch(host if isinstance(host, str) else None)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        changes = typed_fields(body.json_object(), SETTINGS_TYPES, read_only=READ_ONLY)
        if scope.tenant is None:
            return update_system_settings(
                session=session, box=ctx.box, changes=changes, actor=scope.actor
            )
        return update_notification_settings(
            session=session, box=ctx.box, tenant=scope.tenant, changes=changes, actor=scope.actor
        )

    try:
        return web.json_response(await scoped_write(request, work))
    except SystemOnlyField as exc:  # a host path: not the tenant's to name, whatever its value
        raise ApiError(403, exc.message, field=exc.field) from None


async def post_test_email(request: web.Request) -> web.Response:
    """200 `{"ok": true, "reply", "message_id"}` when the server accepted the message;
    502 `{"error", "step", "reply"}` when it refused or failed; 409 when not configured."""
    from core.services.mail_tests import send_test_email

    ctx = request.app[CONTEXT]
    body = await read_body(request)
    scope = await scoped_read(request, lambda _session, scope: scope)
    fields = typed_fields(body.json_object(), dict.fromkeys(TEST_EMAIL_FIELDS, STRING))
    v.known_fields(fields, TEST_EMAIL_FIELDS)
    result = await send_test_email(
        ctx=ctx,
        tenant=scope.tenant,
        recipient=fields.get("recipient", ""),
        subject=fields.get("subject", ""),
        content=fields.get("content", ""),
        host_field="server",
    )
    if result.ok:
        return web.json_response(
            {"ok": True, "reply": result.reply, "message_id": result.message_id}
        )
    return web.json_response(
        {
            "error": result.error or f"the test email failed at step {result.step}",
            "step": result.step,
            "reply": result.reply,
        },
        status=502,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/tenant/notification", get_settings)
    app.router.add_post("/api/tenant/notification", post_settings)
    app.router.add_post("/api/tenant/notification/test_email", post_test_email)
