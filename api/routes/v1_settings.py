"""`/api/v1/export` and `/api/v1/import`: settings as the versioned JSON document of
`mailbell export` (core/services/settings_export.py), and back.

- `GET /api/v1/export?scope=tenant|system|all`: a tenant token exports its own tenant; a
  system token the tenant named by `?tenant=`, the system (`scope=system`, the default without
  `?tenant=`), or everything (`scope=all`, which needs the `admin` scope);
- `POST /api/v1/import[?dry_run=true]` with the document as the body: applied in one transaction
  through the services (a system token with `admin`), → the report of each item.

Secrets stay out of an export unless the header `X-Mailbell-Passphrase` is sent: they are then
sealed under it (scrypt, AES-GCM), and an import of such a document needs the same header.
Header, not query: a passphrase must not end up in access logs.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.db import CONTEXT
from api.errors import ApiError
from core.errors import ValidationError
from core.services.settings_document import Scope as ExportScope
from core.services.settings_export import export_settings
from core.services.settings_import import import_settings
from core.vocabulary import TokenScope

PASSPHRASE_HEADER = "X-Mailbell-Passphrase"
SCOPES: tuple[ExportScope, ...] = ("tenant", "system", "all")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def _passphrase(request: web.Request) -> str | None:
    given = request.headers.get(PASSPHRASE_HEADER)
    if given is None:
        return None
    if not given.isprintable():
        raise ValidationError("passphrase", f"the {PASSPHRASE_HEADER} header must be printable")
    return given


def _needs_admin(scope: Scope, what: str) -> None:
    if not scope.is_system:
        raise ApiError(403, f"{what} needs a system token (without ?tenant=)", field="tenant")
    if TokenScope.ADMIN not in scope.scopes:
        raise ApiError(
            403, f"this token lacks the scope 'admin' ({what})", extra={"scope": "admin"}
        )


def _export_scope(request: web.Request, scope: Scope) -> ExportScope:
    given = request.query.get("scope") or ("tenant" if scope.tenant is not None else "system")
    if given not in SCOPES:
        raise ValidationError("scope", f"{given[:20]!r} is not one of tenant, system, all")
    if given == "tenant" and scope.tenant is None:
        raise ValidationError("tenant", "scope=tenant needs ?tenant=SLUG with a system token")
    if given != "tenant" and scope.tenant is not None:
        what = "a tenant token" if not scope.system_token else "?tenant="
        raise ApiError(403, f"{what} exports one tenant only (scope=tenant)", field="scope")
    if given == "all":
        _needs_admin(scope, "exporting everything")
    return given


async def export(request: web.Request) -> web.Response:
    box = request.app[CONTEXT].box
    passphrase = _passphrase(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        return export_settings(
            session=session, box=box, scope=_export_scope(request, scope),
            tenant_slug=scope.tenant_slug, passphrase=passphrase,
        )  # fmt: skip

    return web.json_response(await scoped_read(request, work))


def _dry_run(request: web.Request) -> bool:
    given = request.query.get("dry_run", "").lower()
    if given not in TRUE + FALSE:
        raise ValidationError("dry_run", "must be true or false")
    return given in TRUE


async def import_document(request: web.Request) -> web.Response:
    body = await read_body(request)
    box = request.app[CONTEXT].box
    passphrase = _passphrase(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        _needs_admin(scope, "importing settings")
        dry_run = _dry_run(request)
        report = import_settings(
            session=session, box=box, document=body.json_object(), actor=scope.actor,
            dry_run=dry_run, passphrase=passphrase,
        )  # fmt: skip
        counts = {o: report.count(o) for o in ("created", "updated", "unchanged")}
        items = [
            {"kind": i.kind, "owner": i.owner, "key": i.key, "outcome": i.outcome,
             "fields": list(i.fields), "note": i.note}
            for i in report.items
        ]  # fmt: skip
        return {"dry_run": dry_run, **counts, "summary": report.summary(), "items": items}

    return web.json_response(await scoped_write(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/export", export)
    app.router.add_post("/api/v1/import", import_document)
