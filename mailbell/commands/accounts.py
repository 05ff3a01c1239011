"""`mailbell accounts …`: a tenant's email accounts (IMAP inbox + outbound mail server)."""

from __future__ import annotations

from typing import Any

import typer

from mailbell.commands._common import (
    actor,
    context,
    print_json,
    print_table,
    read_secret_argument,
    to_jsonable,
)

app = typer.Typer(help="Email accounts (IMAP inbox + outbound server).", no_args_is_help=True)

TENANT_OPTION = typer.Option(..., "--tenant", help="Tenant slug.")


def _given(**options: Any) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _tenant(session: Any, slug: str) -> Any:
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=slug)


@app.command("add")
def add(
    tenant: str = TENANT_OPTION,
    email: str = typer.Option(..., help="The account's address (read-only afterwards)."),
    name: str = typer.Option(..., help="Display name, e.g. 'Support Inbox'."),
    server: int = typer.Option(..., help="Outbound mail server id (`server list`)."),
    imap_host: str | None = typer.Option(None),
    imap_port: str | None = typer.Option(None, help="993 with TLS, 143 without."),
    imap_username: str | None = typer.Option(None),
    imap_password: str | None = typer.Option(None, help="'-' reads it from stdin."),
    imap_tls: bool = typer.Option(True, "--imap-tls/--no-imap-tls"),
    default: bool = typer.Option(False, "--default", help="Make it the tenant's default."),
) -> None:
    """Add an email account; the tenant needs a mail server first."""
    from core.services.accounts import create_email_account

    data = _given(
        email=email,
        display_name=name,
        mail_server_id=server,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_username=imap_username,
        imap_password=read_secret_argument(imap_password, "IMAP password"),
        imap_tls=imap_tls,
        is_default=default,
    )
    ctx = context()
    with ctx.session() as session:
        account = create_email_account(
            session=session, box=ctx.box, tenant=_tenant(session, tenant), data=data, actor=actor()
        )
    typer.echo(f"email account {account.id} ({account.email}) added")


@app.command("list")
def list_(tenant: str = TENANT_OPTION, as_json: bool = typer.Option(False, "--json")) -> None:
    """List accounts with their sync health (never a password)."""
    from core.services.accounts import email_account_public, list_email_accounts

    with context().session() as session:
        rows = [
            email_account_public(a)
            for a in list_email_accounts(session=session, tenant=_tenant(session, tenant))
        ]
    if as_json:
        print_json(to_jsonable(rows))
    else:
        print_table(
            rows,
            [
                "id",
                "email",
                "display_name",
                "default",
                "mail_server_id",
                "imap_host",
                "last_sync_at",
                "last_error",
            ],
        )


@app.command("edit")
def edit(
    account_id: int,
    tenant: str = TENANT_OPTION,
    email: str | None = typer.Option(None, help="Refused unless unchanged: email is read-only."),
    name: str | None = typer.Option(None),
    server: int | None = typer.Option(None),
    imap_host: str | None = typer.Option(None),
    imap_port: str | None = typer.Option(None),
    imap_username: str | None = typer.Option(None),
    imap_password: str | None = typer.Option(None, help="Empty keeps the stored one."),
    imap_tls: bool | None = typer.Option(None, "--imap-tls/--no-imap-tls"),
) -> None:
    """Change some fields of an account; the others keep their values."""
    from core.services.accounts import update_email_account

    data = _given(
        email=email,
        display_name=name,
        mail_server_id=server,
        imap_host=imap_host,
        imap_port=imap_port,
        imap_username=imap_username,
        imap_password=read_secret_argument(imap_password, "IMAP password"),
        imap_tls=imap_tls,
    )
    ctx = context()
    with ctx.session() as session:
        update_email_account(
            session=session,
            box=ctx.box,
            tenant=_tenant(session, tenant),
            account_id=account_id,
            data=data,
            actor=actor(),
        )
    typer.echo(f"email account {account_id} updated")


@app.command("default")
def default(account_id: int, tenant: str = TENANT_OPTION) -> None:
    """Make an account the tenant's default (the previous default stops being one)."""
    from core.services.accounts import set_default_email_account

    with context().session() as session:
        set_default_email_account(
            session=session, tenant=_tenant(session, tenant), account_id=account_id, actor=actor()
        )
    typer.echo(f"email account {account_id} is now the default")


@app.command("remove")
def remove(
    account_id: int,
    tenant: str = TENANT_OPTION,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete an account."""
    from core.services.accounts import delete_email_account, get_email_account

    with context().session() as session:
        owner = _tenant(session, tenant)
        account = get_email_account(session=session, tenant=owner, account_id=account_id)
        if not yes:
            typer.confirm(
                f"Are you sure you want to delete {account.email}? This cannot be undone.",
                abort=True,
            )
        delete_email_account(session=session, tenant=owner, account_id=account_id, actor=actor())
    typer.echo(f"email account {account_id} deleted")
