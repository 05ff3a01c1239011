"""`POST /api/v1/templates/{name}/preview {"data"?, "subject"?, "from"?, "body"?, "locale"?}`:
a template rendered as the owner's message of the event would be, nothing sent or stored.

Without `subject`, `from` and `body` it is the template in use (the owner's custom one of the
locale, or the shipped default); each part given replaces that part, unsaved. `data`: the
payload (default: the event's sample). An unsaved template is validated as saving it would be
(safety, variables, test renders on the render budget) in the checking process, before the
render, which runs on a reader thread within the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import Scope, scoped_read
from api.body import read_body
from api.errors import ApiError
from api.json_types import known_json_fields
from api.template_checks import TEMPLATE_CHECKS
from core.catalog import Event, get_template
from core.errors import NotFound, PermanentError, ValidationError
from core.locality import check_locale
from core.pipeline.emit_config import owner_config
from core.rendering import TemplateSource, render
from core.services.templates import PREVIEW_SERVER_FROM, TemplatePreview, template_in_use

PARTS = {"from": "mail_from", "subject": "subject", "body": "body"}


class PreviewBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    data: dict[str, Any] | None = None
    mail_from: str | None = Field(default=None, alias="from")
    subject: str | None = None
    body: str | None = None
    locale: str | None = Field(default=None, max_length=35)


@dataclass(frozen=True)
class Given:
    event: Event
    source: TemplateSource
    used: str | None  # the custom template's locale, None for the default
    unsaved: bool
    data: dict[str, Any] | None
    locale: str


def _given(session: Session, scope: Scope, name: str, fields: dict[str, Any]) -> Given:
    try:
        event = get_template(name)
    except NotFound as exc:
        raise ApiError(404, exc.message, field="name") from None
    locale = check_locale("locale", fields["locale"]) if "locale" in fields else ""
    source, used = template_in_use(
        session=session, tenant=scope.tenant, name=event.name, locale=locale
    )
    parts = {PARTS[key]: fields[key] for key in PARTS if key in fields}
    if parts:
        source = replace(source, custom=True, **parts)
    return Given(event, source, used, bool(parts), fields.get("data"), locale)


async def preview(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await read_body(request) if request.can_read_body else None

    def given(session: Session, scope: Scope) -> Given:
        fields = known_json_fields(body.json_object(), PreviewBody) if body is not None else {}
        return _given(session, scope, name, fields)

    chosen = await scoped_read(request, given)
    if chosen.unsaved:
        source = chosen.source
        values = {"mail_from": source.mail_from, "subject": source.subject, "body": source.body}
        await request.app[TEMPLATE_CHECKS].validate(chosen.event.name, values)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        locality = owner_config(session, scope.tenant).locality
        if chosen.locale:
            locality = replace(locality, locale=chosen.locale)
        data = chosen.data if chosen.data is not None else chosen.event.sample
        try:
            rendered = render(
                chosen.event.name, data, template=chosen.source,
                server_from=PREVIEW_SERVER_FROM, locality=locality,
            )  # fmt: skip
        except PermanentError as exc:  # the template fails with this payload
            raise ValidationError(
                "data" if chosen.data is not None else "template", str(exc)
            ) from None
        used = None if chosen.unsaved else chosen.used
        shown = TemplatePreview(chosen.event.name, rendered, chosen.source.custom, used, locality)
        return {**shown.as_dict(), "unsaved": chosen.unsaved}

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/templates/{name}/preview", preview)
