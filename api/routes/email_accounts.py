"""Email accounts of a tenant under `/api/v1/email-accounts` (issue #19 items 1 and 4).

- `GET …?limit=&cursor=` → `{"items", "next_cursor"}`; `POST …` a new account → 201;
  `GET|PATCH|DELETE …/{id}`; `POST …/{id}/default`;
- `POST …/{id}/sync`: sync the IMAP folder now (an admin's "sync now": also while scheduled
  syncs are stopped) → 200 with the sync's result (`ok` false with `error` when the server, the
  network or the credentials failed; the reason is also kept on the account);
- `GET …/{id}/messages?limit=&cursor=`: the stored messages, newest first.

Accounts belong to a tenant: a system token names one with `?tenant=SLUG` (400 naming `tenant`
without). Another tenant's id is 404. ETag and If-Match as for mail servers (api.etag); the
IMAP password is write-only (`has_imap_password`), empty keeps the stored one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel import Session, select

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.db import CONTEXT
from api.etag import account_etag, if_match, stale_is_412
from api.json_types import known_json_fields
from api.routes.mail_servers import keyset_page, one, page_params
from api.routes.v1_paging import path_id
from core.errors import ValidationError
from core.models.inbound import InboundMessage
from core.models.mail import EmailAccount, EmailAccountCreate, EmailAccountRead, EmailAccountUpdate
from core.models.tenancy import Tenant
from core.services.accounts import (
    account_row,
    create_email_account,
    delete_email_account,
    set_default_email_account,
    update_email_account,
)
from core.services.inbound import message_public, sync_account

BASE = "/api/v1/email-accounts"


def _tenant(scope: Scope) -> Tenant:
    if scope.tenant is None:
        raise ValidationError(
            "tenant", "email accounts belong to a tenant: name it with ?tenant=SLUG"
        )
    return scope.tenant


def _shown(row: EmailAccount) -> dict[str, Any]:
    return EmailAccountRead.of(row).model_dump(mode="json")


def _read(row: EmailAccount) -> tuple[dict[str, Any], str]:
    return _shown(row), account_etag(row)


async def list_accounts(request: web.Request) -> web.Response:
    limit, after = page_params(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        query = select(EmailAccount).where(EmailAccount.tenant_id == _tenant(scope).id)
        return keyset_page(session, query, EmailAccount.id, _shown, limit, after)

    return web.json_response(await scoped_read(request, work))


async def create_account(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await read_body(request)

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        tenant = _tenant(scope)
        data = EmailAccountCreate.from_fields(
            known_json_fields(body.json_object(), EmailAccountCreate)
        )
        created = create_email_account(
            session=session, box=ctx.box, tenant=tenant, data=data, actor=scope.actor
        )
        return _read(account_row(session=session, tenant=tenant, account_id=created.id))

    read, etag = await scoped_write(request, work)
    response = one(read, etag, status=201)
    response.headers["Location"] = f"{BASE}/{read['id']}"
    return response


async def get_account(request: web.Request) -> web.Response:
    account_id = path_id(request, "email account")

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        return _read(account_row(session=session, tenant=_tenant(scope), account_id=account_id))

    return one(*await scoped_read(request, work))


async def patch_account(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    account_id = path_id(request, "email account")
    body = await read_body(request)
    expected = if_match(request)

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        tenant = _tenant(scope)
        changes = EmailAccountUpdate.from_fields(
            known_json_fields(body.json_object(), EmailAccountUpdate)
        )
        with stale_is_412(f"email account {account_id}"):
            update_email_account(
                session=session, box=ctx.box, tenant=tenant, account_id=account_id,
                changes=changes, actor=scope.actor, expected_version=expected,
            )  # fmt: skip
        return _read(account_row(session=session, tenant=tenant, account_id=account_id))

    return one(*await scoped_write(request, work))


async def delete_account(request: web.Request) -> web.Response:
    """200 `{"deleted", "new_default"}`: the account as it was, and the account that became
    the tenant's default (null when none did)."""
    account_id = path_id(request, "email account")
    expected = if_match(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        tenant = _tenant(scope)
        # Locked where the database can (PostgreSQL): `deleted` is the row the delete removes.
        was = _shown(account_row(session=session, tenant=tenant, account_id=account_id, lock=True))
        with stale_is_412(f"email account {account_id}"):
            successor = delete_email_account(
                session=session, tenant=tenant, account_id=account_id, actor=scope.actor,
                expected_version=expected,
            )  # fmt: skip
        return {
            "deleted": was,
            "new_default": successor.model_dump(mode="json") if successor is not None else None,
        }

    return web.json_response(await scoped_write(request, work))


async def make_default(request: web.Request) -> web.Response:
    account_id = path_id(request, "email account")

    def work(session: Session, scope: Scope) -> tuple[dict[str, Any], str]:
        tenant = _tenant(scope)
        set_default_email_account(
            session=session, tenant=tenant, account_id=account_id, actor=scope.actor
        )
        return _read(account_row(session=session, tenant=tenant, account_id=account_id))

    return one(*await scoped_write(request, work))


async def sync_now(request: web.Request) -> web.Response:
    """409 when the account has no IMAP host, or its failed logins of the day are used up."""
    account_id = path_id(request, "email account")

    def work(session: Session, scope: Scope) -> int:
        return (
            account_row(session=session, tenant=_tenant(scope), account_id=account_id).id
            or account_id
        )

    await scoped_read(request, work)  # the account is the caller's
    result = await sync_account(ctx=request.app[CONTEXT], account_id=account_id, manual=True)
    return web.json_response({name: getattr(result, name) for name in result.__dataclass_fields__})


def _public(row: InboundMessage) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in message_public(row).items()
    }


async def list_messages(request: web.Request) -> web.Response:
    account_id = path_id(request, "email account")
    limit, after = page_params(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        account_row(session=session, tenant=_tenant(scope), account_id=account_id)
        query = select(InboundMessage).where(InboundMessage.account_id == account_id)
        return keyset_page(
            session, query, InboundMessage.id, _public, limit, after, newest_first=True
        )

    return web.json_response(await scoped_read(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get(BASE, list_accounts)
    app.router.add_post(BASE, create_account)
    app.router.add_get(BASE + "/{id:\\d+}", get_account)
    app.router.add_patch(BASE + "/{id:\\d+}", patch_account)
    app.router.add_delete(BASE + "/{id:\\d+}", delete_account)
    app.router.add_post(BASE + "/{id:\\d+}/default", make_default)
    app.router.add_post(BASE + "/{id:\\d+}/sync", sync_now)
    app.router.add_get(BASE + "/{id:\\d+}/messages", list_messages)
