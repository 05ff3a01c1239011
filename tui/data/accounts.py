"""Email accounts of a tenant: the list, save, default, delete, sync, synced messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.data.wording import for_tui
from tui.runtime import actor, check, owner

if TYPE_CHECKING:
    from core.context import Context

MESSAGES_LIMIT = 500


@dataclass(frozen=True)
class AccountsView:
    accounts: list[dict[str, Any]]
    servers: dict[int, str]


def _tenant(session: Any, slug: str, *, write: bool = False) -> Any:
    tenant = owner(session, slug, write=write)
    assert tenant is not None, "email accounts belong to a tenant"
    return tenant


def load(ctx: Context, slug: str) -> AccountsView:
    from core.models.mail import EmailAccount
    from core.services.accounts import list_email_accounts
    from core.services.mail_servers import list_mail_servers
    from core.services.versions import account_version

    with ctx.session() as session:
        tenant = _tenant(session, slug)
        accounts = [
            # the version the edit form opens: its save is refused if someone changed it since
            {
                **_worded(a.model_dump()),
                "version": account_version(session.get_one(EmailAccount, a.id)),
            }
            for a in list_email_accounts(session=session, tenant=tenant)
        ]
        servers = {s.id: s.name for s in list_mail_servers(session=session, tenant=tenant) if s.id}
    return AccountsView(accounts, servers)


def _worded(account: dict[str, Any]) -> dict[str, Any]:
    """The account's errors and reasons in the TUI's words (its pages and keys)."""
    return {
        name: for_tui(value)
        if isinstance(value, str) and name.endswith(("error", "reason"))
        else value
        for name, value in account.items()
    }


def field_error(name: str, value: Any) -> str | None:
    """The rule account field `name` breaks with `value`, if any (the service's own rules)."""
    from core.models.mail import EmailAccountUpdate

    return check(EmailAccountUpdate.from_fields, {name: value})


def save(
    ctx: Context,
    slug: str,
    account_id: int | None,
    data: dict[str, Any],
    version: str | None = None,
) -> str:
    """Add an account (`account_id` None) or change one; its address. With `version` (the one
    the form opened) a change is refused (Conflict) when someone else changed the account since."""
    from core.models.mail import EmailAccountCreate, EmailAccountUpdate
    from core.services.accounts import (
        create_email_account,
        set_default_email_account,
        update_email_account,
    )

    data = dict(data)
    make_default = data.pop("is_default", False)
    with ctx.session() as session:
        tenant = _tenant(session, slug, write=True)
        if account_id is None:
            account = create_email_account(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=EmailAccountCreate.from_fields(data),
                actor=actor(),
            )
        else:
            account = update_email_account(
                session=session,
                box=ctx.box,
                tenant=tenant,
                account_id=account_id,
                changes=EmailAccountUpdate.from_fields(data),
                actor=actor(),
                expected_version=version,
            )
        if make_default and not account.default:
            set_default_email_account(
                session=session, tenant=tenant, account_id=account.id, actor=actor()
            )
        return account.email


def make_default(ctx: Context, slug: str, account_id: int) -> str:
    from core.services.accounts import set_default_email_account

    with ctx.session() as session:
        return set_default_email_account(
            session=session,
            tenant=_tenant(session, slug, write=True),
            account_id=account_id,
            actor=actor(),
        ).email


def delete(ctx: Context, slug: str, account_id: int) -> None:
    from core.services.accounts import delete_email_account

    with ctx.session() as session:
        delete_email_account(
            session=session,
            tenant=_tenant(session, slug, write=True),
            account_id=account_id,
            actor=actor(),
        )


async def sync(ctx: Context, account_id: int, progress: Any) -> Any:
    """Sync the account's inbox now ("sync now": also when scheduled syncs are stopped);
    `progress(done, total)` is called as messages arrive."""
    import asyncio

    from core.services.inbound import sync_account

    await asyncio.to_thread(_require_write, ctx, account_id)
    return await sync_account(ctx=ctx, account_id=account_id, progress=progress, manual=True)


def _require_write(ctx: Context, account_id: int) -> None:
    """A sync stores messages: only a session that may change the account's tenant runs one."""
    from core.access import require_write
    from core.errors import NotFound
    from core.models.mail import EmailAccount
    from core.models.tenancy import Tenant
    from tui.runtime import grant

    with ctx.session() as session:
        account = session.get(EmailAccount, account_id)
        tenant = session.get(Tenant, account.tenant_id) if account is not None else None
        if tenant is None:
            raise NotFound(f"no email account has id {account_id}")
        require_write(grant(), tenant.slug)


def load_messages(ctx: Context, slug: str, account_id: int) -> list[dict[str, Any]]:
    from core.services.inbound import list_messages, message_public

    with ctx.session() as session:
        rows = list_messages(
            session=session,
            tenant=_tenant(session, slug),
            account_id=account_id,
            limit=MESSAGES_LIMIT,
        )
        return [message_public(row) for row in rows]
