"""mailbell's view of the email templates, every event of the catalogue (the PortSIP endpoints
under `/api/*_email_templates` know only the reference's 14):

- `GET /api/v1/templates`: each template's name, scope, toggle, audience, description, and
  the locales the owner has custom templates of ("" standing for its template for every
  locale; `custom`: any at all);
- `GET /api/v1/templates/{name}[?locale=L]`: its variables, sample payload, the shipped
  default (in `L`'s language, else the default language) and every custom template of the
  owner, one per locale (`locale` null: the one for every locale).

The owner is the token's tenant, or the system for a system token without `?tenant=`; a system
event's custom templates are the system's, whoever asks (as the TUI shows them). Rendering a
template is `POST /api/v1/templates/{name}/preview` (api/routes/v1_preview.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read
from api.errors import ApiError
from core.catalog import TEMPLATE_NAMES, get_template
from core.errors import NotFound
from core.services.templates import custom_locales, custom_templates_of, template_details

LISTED = ("name", "scope", "toggle", "audience", "description")


async def list_templates(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        locales = custom_locales(session=session, tenant=scope.tenant)
        rows = []
        for name in TEMPLATE_NAMES:
            event = get_template(name)
            found = locales.get(name, [])
            shown = {key: getattr(event, key) for key in LISTED}
            rows.append({**shown, "custom": bool(found), "locales": found})
        return {"templates": rows}

    return web.json_response(await scoped_read(request, work))


async def get_template_view(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    locale = request.query.get("locale", "")

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        try:
            event = get_template(name)
        except NotFound as exc:
            raise ApiError(404, exc.message, field="name") from None
        details = template_details(session=session, tenant=scope.tenant, name=event.name,
                                   locale=locale)  # fmt: skip
        customs = custom_templates_of(session=session, tenant=scope.tenant, name=event.name)
        shown = {key: details[key] for key in (*LISTED, "variables", "sample", "default")}
        return {**shown, "locale": details["locale"], "custom": customs}

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/templates", list_templates)
    app.router.add_get("/api/v1/templates/{name}", get_template_view)
