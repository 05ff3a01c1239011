"""`/api/v1/tokens`: API tokens, managed with a token holding the `admin` scope.

- `GET /api/v1/tokens`: the owner's tokens (revoked ones too; never a secret);
- `POST /api/v1/tokens {"name", "scopes"?, "expires"?}`: a new token → 201 with `token` (the
  secret, shown this once) and its row; `scopes` a list or `read,write`, default read, write and
  events; `expires` 90d, 12h, 2w or an ISO date or time (absent: never);
- `DELETE /api/v1/tokens/{id}`: revoke it → 200 with its row.

The owner: a tenant token's own tenant, or the tenant a system token names with `?tenant=`, or
the system (system tokens). Another owner's token is 404, so a tenant admin never learns of
others' tokens.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.json_types import known_json_fields
from api.routes.v1_paging import path_id
from core.errors import ValidationError
from core.models._common import utcnow
from core.services.tokens import create_token, list_tokens, parse_expiry, parse_scopes, revoke_token
from core.vocabulary import TokenScope


class TokenCreateBody(BaseModel):
    name: str = Field(max_length=100)
    scopes: list[TokenScope] | None = None
    expires: str | None = Field(default=None, max_length=40)


async def list_owned(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> list[dict[str, Any]]:
        rows = list_tokens(session=session, owner=scope.tenant)
        return [row.model_dump(mode="json") for row in rows]

    return web.json_response(await scoped_read(request, work))


def _scopes(value: Any) -> frozenset[TokenScope]:
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        return parse_scopes(value)
    raise ValidationError("scopes", "must be a JSON array of scopes (read, write, events, admin)")


async def create(request: web.Request) -> web.Response:
    body = await read_body(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        fields = known_json_fields(body.json_object(), TokenCreateBody)
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("name", "is required: what the token is for (1-100 characters)")
        scopes = _scopes(fields["scopes"]) if "scopes" in fields else None
        expires = fields.get("expires")  # a string: json_fields refused any other JSON type
        created = create_token(
            session=session,
            tenant=scope.tenant,
            name=name,
            actor=scope.actor,
            scopes=scopes,
            expires_at=parse_expiry(expires, now=utcnow()) if expires else None,
        )
        return {"token": created.plaintext, **created.token.model_dump(mode="json")}

    return web.json_response(await scoped_write(request, work), status=201)


async def revoke(request: web.Request) -> web.Response:
    token_id = path_id(request, "token")

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        revoked = revoke_token(
            session=session, token_id=token_id, actor=scope.actor, owner=scope.tenant
        )
        return revoked.model_dump(mode="json")

    return web.json_response(await scoped_write(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/tokens", list_owned)
    app.router.add_post("/api/v1/tokens", create)
    app.router.add_delete("/api/v1/tokens/{id}", revoke)
