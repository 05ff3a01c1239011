"""Mail servers of the owner under `/api/v1/mail-servers` (issue #19 items 1 and 4).

- `GET …?limit=&cursor=` → `{"items", "next_cursor"}` (keyset on id: a deep page costs what the
  first does); `POST …` a new server (a `provider` preset fills host, port and security, as the
  CLI's `server add`) → 201; `GET|PATCH|DELETE …/{id}`; `POST …/{id}/default`;
- `POST …/{id}/test` (saved settings), `POST …/test` (unsaved settings in the body) → 200 with
  the step-by-step report, `ok` true or false; OAuth in api.routes.mail_server_oauth.

The owner is the token's tenant, or the system for a system token without `?tenant=`; another
owner's id is 404. One server's answers carry `ETag`; PATCH and DELETE with an `If-Match` that
names another one are 412 and change nothing (the services' version check, api.etag). Secrets
are write-only (`has_…` flags); an empty password keeps the stored one. A tenant token's host is
fenced (400 naming `host`) and `ca_file` is 403, as in the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Select
from sqlmodel import Session, col

from api.auth import Scope, fenced_scope, scoped_read, scoped_write
from api.body import Body, read_body
from api.db import CONTEXT
from api.etag import if_match, server_etag, stale_is_412
from api.json_types import known_json_fields
from api.routes.v1_paging import before_id_of, cursor_of, limit_of, path_id
from core.errors import ValidationError
from core.mail.proxy_url import proxy_host
from core.models.mail import MailServer, MailServerCreate, MailServerRead, MailServerUpdate
from core.services.mail_server_fields import owner_query
from core.services.mail_servers import (
    create_mail_server,
    delete_mail_server,
    mail_server_row,
    set_default_mail_server,
    update_mail_server,
)
from core.services.mail_tests import test_mail_server

BASE = "/api/v1/mail-servers"
PAGE_MAX = 200


# -- shared by the /api/v1 routes of this area (a path's id: api.routes.v1_paging.path_id) -------


def page_params(request: web.Request) -> tuple[int, int | None]:
    """`?limit=` (1 to 200, default 50) and `?cursor=` (opaque: a `next_cursor` given before), as
    every /api/v1 list reads them; the cursor's id is the last row of the page before, whichever
    way the list runs."""
    return limit_of(request, most=PAGE_MAX), before_id_of(request)


def keyset_page(
    session: Session,
    query: Select[Any],
    id_column: Any,
    shown: Callable[[Any], dict[str, Any]],
    limit: int,
    after: int | None,
    *,
    newest_first: bool = False,
) -> dict[str, Any]:
    """One page of `query`'s rows by id, each `shown`: `{"items", "next_cursor"}` (None: the
    last page)."""
    if after is not None:
        query = query.where(id_column < after if newest_first else id_column > after)
    order = col(id_column).desc() if newest_first else col(id_column)
    rows = list(session.exec(query.order_by(order).limit(limit + 1)))  # type: ignore[call-overload]
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [shown(row) for row in rows],
        "next_cursor": cursor_of(rows[-1].id) if more else None,
    }


def one(body: dict[str, Any], etag: str, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers={"ETag": etag})


async def fenced(request: web.Request, body: Body) -> Scope:
    """The caller's scope, a tenant token's server and proxy hosts resolved ahead
    (api.auth.fenced_scope)."""
    return await fenced_scope(
        request,
        lambda: (body.json_object().get("host"), proxy_host(body.json_object().get("proxy"))),
    )


def _shown(server: MailServer) -> dict[str, Any]:
    return MailServerRead.of(server).model_dump(mode="json")


def _read(server: MailServer) -> tuple[dict[str, Any], str]:
    return _shown(server), server_etag(server)


def _locked_row(session: Session, scope: Scope, server_id: int) -> MailServer:
    """The row, locked for the delete's transaction where the database can (PostgreSQL), so
    that the answer's `deleted` is the row the delete removes."""
    query = owner_query(scope.tenant).where(MailServer.id == server_id).with_for_update()
    row = session.exec(query).first()
    return (
        row
        if row is not None
        else mail_server_row(session=session, tenant=scope.tenant, server_id=server_id)
    )


# -- the routes ---------------------------------------------------------------------------------


async def list_servers(request: web.Request) -> web.Response:
    limit, after = page_params(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        query = owner_query(scope.tenant)
        return keyset_page(session, query, MailServer.id, _shown, limit, after)

    return web.json_response(await scoped_read(request, work))


async def create_server(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request)
    await fenced(request, body)

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        data = MailServerCreate.from_fields(known_json_fields(body.json_object(), MailServerCreate))
        created = create_mail_server(
            session=session, box=ctx.box, tenant=scope.tenant, data=data, actor=scope.actor
        )
        return _read(mail_server_row(session=session, tenant=scope.tenant, server_id=created.id))

    read, etag = await scoped_write(request, work)
    response = one(read, etag, status=201)
    response.headers["Location"] = f"{BASE}/{read['id']}"
    return response


async def get_server(request: web.Request) -> web.Response:
    server_id = path_id(request, "mail server")

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        return _read(mail_server_row(session=session, tenant=scope.tenant, server_id=server_id))

    return one(*await scoped_read(request, work))


async def patch_server(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    server_id = path_id(request, "mail server")
    body = await read_body(request)
    await fenced(request, body)
    expected = if_match(request)

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        changes = MailServerUpdate.from_fields(
            known_json_fields(body.json_object(), MailServerUpdate)
        )
        with stale_is_412(f"mail server {server_id}"):
            update_mail_server(
                session=session, box=ctx.box, tenant=scope.tenant, server_id=server_id,
                changes=changes, actor=scope.actor, expected_version=expected,
            )  # fmt: skip
        return _read(mail_server_row(session=session, tenant=scope.tenant, server_id=server_id))

    return one(*await scoped_write(request, work))


async def delete_server(request: web.Request) -> web.Response:
    """200 `{"deleted", "detached_accounts", "new_default"}`: the server as it was, the email
    accounts that used it (now without one) and the server that became the owner's default."""
    server_id = path_id(request, "mail server")
    expected = if_match(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        row = _locked_row(session, scope, server_id)
        was = _shown(row)
        with stale_is_412(f"mail server {server_id}"):
            gone = delete_mail_server(
                session=session, tenant=scope.tenant, server_id=server_id, actor=scope.actor,
                expected_version=expected,
            )  # fmt: skip
        new_default = gone.new_default
        return {
            "deleted": was,
            "detached_accounts": [a.model_dump(mode="json") for a in gone.detached_accounts],
            "new_default": new_default.model_dump(mode="json") if new_default else None,
        }

    return web.json_response(await scoped_write(request, work))


async def make_default(request: web.Request) -> web.Response:
    server_id = path_id(request, "mail server")

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        set_default_mail_server(
            session=session, tenant=scope.tenant, server_id=server_id, actor=scope.actor
        )
        return _read(mail_server_row(session=session, tenant=scope.tenant, server_id=server_id))

    return one(*await scoped_write(request, work))


async def _test(request: web.Request, server_id: int | None, changes: dict[str, Any]) -> Any:
    scope = await scoped_read(request, lambda _session, scope: scope)
    report = await test_mail_server(
        ctx=request.app[CONTEXT], tenant=scope.tenant, server_id=server_id,
        changes=changes or None, actor=scope.actor,
    )  # fmt: skip
    return web.json_response(report.as_dict())


async def test_saved(request: web.Request) -> web.Response:
    """The saved server, step by step (DNS … AUTH … MAIL FROM, no mail sent); its outcome is
    recorded on it (`last_test_*`)."""
    server_id = path_id(request, "mail server")
    return await _test(request, server_id, {})


async def test_unsaved(request: web.Request) -> web.Response:
    """A new server's fields, as `POST /api/v1/mail-servers` takes them (`name` optional),
    tested without saving anything."""
    body = await read_body(request)
    await fenced(request, body)
    fields = known_json_fields(body.json_object(), MailServerCreate)
    if not fields:
        raise ValidationError("host", "is required: give the settings to test (host, port, …)")
    return await _test(request, None, fields)


def setup(app: web.Application) -> None:
    """The servers' own routes; their OAuth routes are api.routes.mail_server_oauth's."""
    app.router.add_get(BASE, list_servers)
    app.router.add_post(BASE, create_server)
    app.router.add_post(f"{BASE}/test", test_unsaved)
    app.router.add_get(BASE + "/{id:\\d+}", get_server)
    app.router.add_patch(BASE + "/{id:\\d+}", patch_server)
    app.router.add_delete(BASE + "/{id:\\d+}", delete_server)
    app.router.add_post(BASE + "/{id:\\d+}/default", make_default)
    app.router.add_post(BASE + "/{id:\\d+}/test", test_saved)
