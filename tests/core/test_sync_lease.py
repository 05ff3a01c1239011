"""One IMAP sync per account across processes."""

from __future__ import annotations

from core.models.mail import EmailAccount, EmailAccountCreate
from core.services import sync_lease
from core.services.accounts import create_email_account
from core.services.inbound import sync_account
from tests.support.factories import make_mail_server, make_tenant


def _account(ctx, session, actor) -> int:
    tenant = make_tenant(session, actor=actor)
    server = make_mail_server(session, ctx.box, tenant, actor=actor)
    account = create_email_account(
        session=session,
        box=ctx.box,
        tenant=tenant,
        actor=actor,
        data=EmailAccountCreate.from_fields(
            {
                "email": "in@acme.org",
                "display_name": "In",
                "mail_server_id": server.id,
                "imap_host": "127.0.0.1",
                "imap_port": 1,
                "imap_password": "pw",
            }
        ),
    )
    assert account.id is not None
    return account.id


def test_lease_is_exclusive_until_released_or_expired(ctx, session, actor) -> None:
    account_id = _account(ctx, session, actor)
    assert sync_lease.acquire(ctx.engine, account_id, owner="host-a:1", lease_s=60)
    assert not sync_lease.acquire(ctx.engine, account_id, owner="host-b:2", lease_s=60)
    sync_lease.release(ctx.engine, account_id, owner="host-b:2")  # not the holder: no effect
    assert not sync_lease.acquire(ctx.engine, account_id, owner="host-b:2", lease_s=60)
    sync_lease.release(ctx.engine, account_id, owner="host-a:1")
    assert sync_lease.acquire(ctx.engine, account_id, owner="host-b:2", lease_s=-1)
    assert sync_lease.acquire(ctx.engine, account_id, owner="host-c:3", lease_s=60)  # expired


async def test_sync_skips_an_account_another_process_holds(ctx, session, actor) -> None:
    account_id = _account(ctx, session, actor)
    assert sync_lease.acquire(ctx.engine, account_id, owner="elsewhere:9", lease_s=60)
    result = await sync_account(ctx=ctx, account_id=account_id)
    assert not result.ok and result.error_kind == "busy"
    with ctx.session() as check:
        account = check.get(EmailAccount, account_id)
        assert account.last_sync_error is None and account.sync_lease_owner == "elsewhere:9"
    sync_lease.release(ctx.engine, account_id, owner="elsewhere:9")
    result = await sync_account(ctx=ctx, account_id=account_id, io_timeout=2)
    assert result.error_kind != "busy"  # ran, and failed on the closed port
    with ctx.session() as check:
        account = check.get(EmailAccount, account_id)
        assert account.last_sync_error and account.sync_lease_owner is None
