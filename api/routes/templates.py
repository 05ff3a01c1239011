"""Email templates, as in the reference: `name`, `from`, `subject`, `body`.

- `GET /api/default_email_templates[/{name}]`: the shipped defaults (any token).
- `GET|POST /api/custom_email_templates`: the caller's custom templates; POST creates one
  (fields not given start as the default's; 409 when it exists already).
- `GET|POST|DELETE /api/custom_email_templates/{name}`: read, partially update, or delete (the
  default is used again); 404 when the owner has none.

- `GET /api/email_templates/{name}/preview` (extension, any template of the catalogue): the
  template the owner's message would use, rendered with the event's sample payload in the
  owner's time zone and locale (`?locale=` renders in another), with the files it carries.

Extension: `?locale=fr_FR` (or a language, `fr`) on the create and on these three names the
owner's custom template of that locale; without it, its template for every locale (the only
one a PortSIP client knows). The list likewise carries the templates for every locale (`locale`
null), and with `?locale=` that locale's only. A value that is not a locale is 400 naming
`locale`. The bodies are the reference's either way.

The owner is the token's tenant, or the system for a system token without `?tenant=` (system
events are customised at system level, tenant events per tenant: 400 `tenant` otherwise).
A name outside the 14 of the reference is 404 `{"error": "... valid names: ...", "field":
"name"}`, in the path and in a create body alike: mailbell's own events (the health notices)
have templates too, but these endpoints neither list nor accept them (the CLI and the TUI do).

A template being saved is validated (test renders on the render budget) in a process of its
own (api/template_checks.py), after the token check and before the write: rendering never runs
on the shared writer thread, nor holds the GIL of the process serving every tenant's events.
The service validates again inside the write: a hit in the cache of validation outcomes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.errors import ApiError
from api.json_types import json_fields
from api.template_checks import TEMPLATE_CHECKS
from api.template_checks import setup as setup_checks
from core import validation as v
from core.catalog import PORTSIP_NAMES, Event, get_event, get_template
from core.errors import NotFound, PermanentError, ValidationError
from core.locality import check_locale
from core.models.templates import TemplateUpdate
from core.pipeline.emit_config import owner_config
from core.services.templates import (
    create_custom_template,
    delete_custom_template,
    get_custom_template,
    get_default_template,
    list_custom_templates,
    list_default_templates,
    preview_template,
    update_custom_template,
    values_for_create,
    values_for_update,
)
from core.vocabulary import TemplateName


class TemplateCreate(TemplateUpdate):
    """`POST /api/custom_email_templates`: a template's name (checked against the catalogue:
    404 naming the valid names) and `TemplateUpdate`'s parts (`from` or `mail_from`, `subject`,
    `body`), whose values the template service checks."""

    name: TemplateName


class TemplateUpdateBody(TemplateUpdate):
    """`POST /api/custom_email_templates/{name}`: `TemplateUpdate`'s parts, and `name`, which
    must then be the path's."""

    name: TemplateName | None = None


# The names a create may carry (the part `from` also goes by `mail_from`).
CREATE_FIELDS = ("name", "from", "mail_from", "subject", "body")
# The From a preview renders with when the template has none: the mail server's is used then.
# Returned by GET, not settable: ignored when a client posts back what it read.
READ_ONLY = ("created_at", "updated_at")


def _locale(request: web.Request) -> str:
    """`?locale=`: "" (absent or empty: the template for every locale) or a checked locale."""
    given = request.query.get("locale", "")
    return check_locale("locale", given) if given else ""


async def _prevalidate(request: web.Request, name: str, values: dict[str, str]) -> None:
    """`validate_template` in the checking process (400 `ValidationError` when refused)."""
    await request.app[TEMPLATE_CHECKS].validate(name, values)


def known_event(name: Any) -> Event:
    """The catalogue entry for `name`; 404 naming the valid names when there is none."""
    if not isinstance(name, str):
        raise ValidationError("name", "must be a JSON string")
    try:
        return get_event(name, among=PORTSIP_NAMES)
    except NotFound as exc:
        raise ApiError(404, exc.message, field="name") from None


def _default_dict(name: str) -> dict[str, str]:
    source = get_default_template(name)
    return {"name": source.name, **source.as_dict()}


async def list_defaults(request: web.Request) -> web.Response:
    await scoped_read(request, lambda _session, scope: scope)  # the token check
    shown = [t for t in list_default_templates() if t.name in PORTSIP_NAMES]
    return web.json_response([{"name": t.name, **t.as_dict()} for t in shown])


async def get_default(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    event = await scoped_read(request, lambda _session, _scope: known_event(name))
    return web.json_response(_default_dict(event.name))


async def list_custom(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> list[dict[str, Any]]:
        # A PortSIP client knows one custom template per name: without `?locale=` it gets the
        # owner's templates for every locale, as before locales existed.
        only = _locale(request)
        rows = list_custom_templates(session=session, tenant=scope.tenant)
        return [row.as_dict() for row in rows if row.name in PORTSIP_NAMES and row.locale == only]

    return web.json_response(await scoped_read(request, work))


async def create_custom(request: web.Request) -> web.Response:
    body = await read_body(request)

    def given(session: Session, scope: Scope) -> tuple[str, dict[str, Any], dict[str, str]]:
        fields = json_fields(body.json_object(), TemplateCreate, read_only=READ_ONLY)
        v.known_fields(fields, CREATE_FIELDS)
        if "name" not in fields:
            raise ValidationError("name", "is required: one of the 14 template names")
        event = known_event(fields["name"])
        if "from" in fields and "mail_from" in fields:
            raise ValidationError("from", "give either from or mail_from, not both")
        parts = {
            "mail_from": fields.get("from", fields.get("mail_from")),
            "subject": fields.get("subject"),
            "body": fields.get("body"),
        }
        values = values_for_create(
            tenant=scope.tenant, name=event.name, locale=_locale(request), **parts
        )
        return event.name, parts, values

    name, parts, values = await scoped_read(request, given)
    await _prevalidate(request, name, values)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        row = create_custom_template(
            session=session, tenant=scope.tenant, name=name, locale=_locale(request),
            actor=scope.actor, **parts,
        )  # fmt: skip
        return row.as_dict()

    return web.json_response(await scoped_write(request, work))


async def get_custom(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        event = known_event(name)
        row = get_custom_template(
            session=session, tenant=scope.tenant, name=event.name, locale=_locale(request)
        )
        return row.as_dict()

    return web.json_response(await scoped_read(request, work))


async def update_custom(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await read_body(request)

    def given(session: Session, scope: Scope) -> tuple[str, TemplateUpdate, dict[str, str]]:
        event = known_event(name)
        fields = json_fields(body.json_object(), TemplateUpdateBody, read_only=READ_ONLY)
        given_name = fields.pop("name", None)
        if given_name is not None and given_name.strip().upper() != event.name:
            raise ValidationError(
                "name", f"{given_name!r} does not match the template in the path ({event.name})"
            )
        changes = TemplateUpdate.from_fields(fields)
        values = values_for_update(
            session=session,
            tenant=scope.tenant,
            name=event.name,
            changes=changes,
            locale=_locale(request),
        )
        return event.name, changes, values

    event_name, changes, values = await scoped_read(request, given)
    await _prevalidate(request, event_name, values)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        row = update_custom_template(
            session=session, tenant=scope.tenant, name=event_name, changes=changes,
            locale=_locale(request), actor=scope.actor,
        )  # fmt: skip
        return row.as_dict()

    return web.json_response(await scoped_write(request, work))


async def delete_custom(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def work(session: Session, scope: Scope) -> str:
        event = known_event(name)
        delete_custom_template(
            session=session, tenant=scope.tenant, name=event.name, locale=_locale(request),
            actor=scope.actor,
        )  # fmt: skip
        return event.name

    deleted = await scoped_write(request, work)
    return web.json_response({"name": deleted, "deleted": True, "default": True})


async def preview(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        try:
            event = get_template(name)
        except NotFound as exc:
            raise ApiError(404, exc.message, field="name") from None
        # Rendered here, on a reader thread (never the writer), within the render budget.
        try:
            shown = preview_template(
                session=session,
                tenant=scope.tenant,
                name=event.name,
                data=event.sample,
                owner_locality=owner_config(session, scope.tenant).locality,
                locale=_locale(request),
            )
        except PermanentError as exc:  # the owner's template fails with the sample payload
            raise ApiError(400, str(exc), field="template") from None
        return shown.as_dict()

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    setup_checks(app)
    app.router.add_get("/api/default_email_templates", list_defaults)
    app.router.add_get("/api/default_email_templates/{name}", get_default)
    app.router.add_get("/api/custom_email_templates", list_custom)
    app.router.add_post("/api/custom_email_templates", create_custom)
    app.router.add_get("/api/custom_email_templates/{name}", get_custom)
    app.router.add_post("/api/custom_email_templates/{name}", update_custom)
    app.router.add_delete("/api/custom_email_templates/{name}", delete_custom)
    app.router.add_get("/api/email_templates/{name}/preview", preview)
