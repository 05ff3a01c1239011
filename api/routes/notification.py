"""`GET|POST /api/tenant/notification`, `POST /api/tenant/notification/test_email`.

The settings object is the PortSIP flat one (`api.portsip`: the reference's fields plus
DESIGN's extensions) of the settings service's models; `password` is never returned. A system
token without `?tenant=` reads and writes the system settings. POST is a partial update and
answers 200 with the new object.

Tenant tokens are fenced (core/netfence.py): `ca_file` is 403 (they send `ca_pem`, PEM text,
read back as given), and `server` must resolve to addresses MAILBELL_TENANT_SMTP_NETWORKS
allows (400 naming `server`). The host is resolved before the write, off the writer thread, so
that the write's own check finds it cached.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlmodel import Session

from api.auth import Scope, fenced_scope, scoped_read, scoped_write
from api.body import read_body
from api.db import CONTEXT
from api.json_types import known_json_fields
from api.portsip import READ_ONLY, from_portsip, to_portsip
from core.errors import ValidationError
from core.mail.proxy_url import proxy_host
from core.models.tenancy import SERVER_SETTING_COLUMNS, TLS_FLAGS, NotificationSettingsUpdate
from core.services.mail_drafts import settings_unsaved
from core.services.mail_server_fields import ca_file_refused
from core.services.mail_tests import CONTENT_MAX, SUBJECT_MAX, send_test_email
from core.services.notifications import (
    get_notification_settings,
    named_as_settings,
    update_notification_settings,
)

# The settings a test email may carry unsaved (a mailbell extension): the server fields of the
# settings object, as POST /api/tenant/notification takes them.
UNSAVED_SETTINGS = tuple(
    name
    for name in NotificationSettingsUpdate.model_fields
    if name in SERVER_SETTING_COLUMNS or name in TLS_FLAGS
)


class _TestEmailFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class, whatever its name

    recipient: str
    subject: str = Field(max_length=SUBJECT_MAX)
    content: str = Field(max_length=CONTENT_MAX)


def _unsaved_fields() -> dict[str, Any]:
    fields = NotificationSettingsUpdate.model_fields
    return {name: (fields[name].annotation, copy(fields[name])) for name in UNSAVED_SETTINGS}


# `POST …/test_email`: the message's fields (checked by `send_test_email`, the CLI's rules) and
# optional unsaved settings (checked as the settings are).
TestEmailRequest: type[BaseModel] = create_model(
    "TestEmailRequest", __base__=_TestEmailFields, **_unsaved_fields()
)


async def get_settings(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        return to_portsip(get_notification_settings(session=session, tenant=scope.tenant))

    return web.json_response(await scoped_read(request, work))


async def post_settings(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request)
    await fenced_scope(
        request,
        lambda: (body.json_object().get("server"), proxy_host(body.json_object().get("proxy"))),
    )

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        try:
            changes = from_portsip(body.json_object(), system=scope.tenant is None)
        except ValidationError as exc:
            if scope.actor.tenant_scoped and exc.field == "ca_file":
                raise ca_file_refused() from None
            raise
        read = update_notification_settings(
            session=session, box=ctx.box, tenant=scope.tenant, changes=changes, actor=scope.actor
        )
        return to_portsip(read)

    return web.json_response(await scoped_write(request, work))


async def post_test_email(request: web.Request) -> web.Response:
    """200 `{"ok": true, "reply", "message_id"}` when the server accepted the message;
    502 `{"error", "step", "reply"}` when it refused or failed; 409 when not configured.

    Server fields in the body are unsaved settings: the test goes through the owner's default
    server with them applied (or a new server made of them when it has none), as a save of
    the settings would make it; nothing is stored or audited."""
    ctx = request.app[CONTEXT]
    body = await read_body(request)
    scope = await scoped_read(request, lambda _session, scope: scope)
    fields = known_json_fields(body.json_object(), TestEmailRequest, read_only=READ_ONLY)
    given = {name: fields[name] for name in UNSAVED_SETTINGS if name in fields}
    unsaved = None
    try:
        if given:
            settings = from_portsip(given, system=scope.tenant is None)
            unsaved = await scoped_read(
                request,
                lambda session, scope: settings_unsaved(
                    session=session, tenant=scope.tenant, settings=settings
                ),
            )
        with named_as_settings():
            result = await send_test_email(
                ctx=ctx,
                tenant=scope.tenant,
                recipient=fields.get("recipient", ""),
                subject=fields.get("subject", ""),
                content=fields.get("content", ""),
                host_field="server",
                server_id=unsaved.server_id if unsaved else None,
                changes=unsaved.changes if unsaved else None,
                actor=scope.actor,
            )
    except ValidationError as exc:
        if scope.actor.tenant_scoped and exc.field == "ca_file":
            raise ca_file_refused() from None
        raise
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
