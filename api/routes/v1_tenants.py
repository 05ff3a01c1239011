"""`/api/v1/tenants`: the tenants, managed with a system token holding the `admin` scope.

- `GET /api/v1/tenants`: every tenant, by slug;
- `POST /api/v1/tenants {"slug", "name"?}`: create one → 201 (409 when the slug exists);
- `PATCH /api/v1/tenants/{slug} {"name"}`: rename → 200;
- `DELETE /api/v1/tenants/{slug}`: delete it with everything it owns → 200 with what it was.

A tenant token is 403 here even with `admin`: it manages its own tokens, not the tenants.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.errors import ApiError
from api.json_types import known_json_fields
from core.errors import NotFound, ValidationError
from core.models.tenancy import Tenant
from core.services.tenants import (
    SLUG_PATTERN,
    create_tenant,
    delete_tenant,
    get_tenant,
    list_tenants,
    rename_tenant,
)


class TenantCreate(BaseModel):
    slug: str = Field(max_length=63)
    name: str | None = Field(default=None, max_length=200)


class TenantRename(BaseModel):
    name: str = Field(max_length=200)


def _shown(tenant: Tenant) -> dict[str, Any]:
    return {"slug": tenant.slug, "name": tenant.name, "created_at": tenant.created_at.isoformat()}


def system_only(scope: Scope) -> None:
    if not scope.is_system:  # a tenant token, or a system token acting on a tenant (?tenant=)
        raise ApiError(
            403, "only a system token (without ?tenant=) manages tenants", field="tenant"
        )


def _slug(request: web.Request) -> str:
    slug = request.match_info["slug"]
    if not SLUG_PATTERN.match(slug):  # never a query with text no tenant can have (NUL bytes)
        raise NotFound(f"tenant {slug[:63]!r} does not exist")
    return slug


async def list_all(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> list[dict[str, Any]]:
        system_only(scope)
        return [_shown(tenant) for tenant in list_tenants(session=session)]

    return web.json_response(await scoped_read(request, work))


async def create(request: web.Request) -> web.Response:
    body = await read_body(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        system_only(scope)
        fields = known_json_fields(body.json_object(), TenantCreate, read_only=("created_at",))
        if "slug" not in fields:
            raise ValidationError("slug", "is required: 1-63 lowercase letters, digits, hyphens")
        tenant = create_tenant(
            session=session, slug=fields["slug"], name=fields.get("name"), actor=scope.actor
        )
        return _shown(tenant)

    return web.json_response(await scoped_write(request, work), status=201)


async def rename(request: web.Request) -> web.Response:
    body = await read_body(request)
    slug = _slug(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        system_only(scope)
        given = body.json_object()
        fields = known_json_fields(given, TenantRename, read_only=("slug", "created_at"))
        if "name" not in fields:
            raise ValidationError("name", "is required: the tenant's new display name")
        get_tenant(session=session, slug=slug)  # 404 before the name is judged
        return _shown(
            rename_tenant(session=session, slug=slug, name=fields["name"], actor=scope.actor)
        )

    return web.json_response(await scoped_write(request, work))


async def delete(request: web.Request) -> web.Response:
    slug = _slug(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        system_only(scope)
        shown = _shown(get_tenant(session=session, slug=slug))
        delete_tenant(session=session, slug=slug, actor=scope.actor)
        return {**shown, "deleted": True}

    return web.json_response(await scoped_write(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/tenants", list_all)
    app.router.add_post("/api/v1/tenants", create)
    app.router.add_patch("/api/v1/tenants/{slug}", rename)
    app.router.add_delete("/api/v1/tenants/{slug}", delete)
