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
    from core.models.mail import EmailAccountCreate
    from core.services.accounts import create_email_account

    fields = _given(
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
        owner = _tenant(session, tenant)
        account = create_email_account(
            session=session,
            box=ctx.box,
            tenant=owner,
            data=EmailAccountCreate.from_fields(fields),
            actor=actor(),
        )
    typer.echo(f"email account {account.id} ({account.email}) added")


@app.command("list")
def list_(tenant: str = TENANT_OPTION, as_json: bool = typer.Option(False, "--json")) -> None:
    """List accounts with their sync health: last sync, messages stored, last error."""
    from core.services.accounts import list_email_accounts

    with context().session() as session:
        rows = [
            a.model_dump()
            for a in list_email_accounts(session=session, tenant=_tenant(session, tenant))
        ]
    if as_json:
        print_json(to_jsonable(rows))
        return
    for row in rows:
        row["sync"] = _sync_cell(row)
    print_table(
        rows,
        [
            "id",
            "email",
            "display_name",
            "default",
            "mail_server_id",
            "imap_host",
            "sync",
            "last_sync_at",
            "message_count",
            "last_error",
        ],
    )
    for row in rows:
        if row["sync_state"] == "stopped":
            where = f"{row['id']} --tenant {tenant}"
            typer.echo(
                f"account {row['id']} ({row['email']}): sync stopped: authentication failed — "
                f"fix the password (`mailbell accounts edit {where} --imap-password -`) "
                f"or press sync now (`mailbell accounts sync {where}`)"
            )


def _sync_cell(row: dict[str, Any]) -> str:
    """The scheduled sync's state in a few words: stopped, retrying (and when), ok…"""
    state = str(row["sync_state"])
    if state == "retrying":
        failed = f"{row['sync_failures']} failed"
        due = row["next_sync_at"]
        return f"retrying ({failed}, next {due:%H:%M})" if due else f"retrying ({failed})"
    return state


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
    from core.models.mail import EmailAccountUpdate
    from core.services.accounts import get_email_account, update_email_account

    fields = _given(
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
        owner = _tenant(session, tenant)
        get_email_account(
            session=session, tenant=owner, account_id=account_id
        )  # a missing one first
        update_email_account(
            session=session,
            box=ctx.box,
            tenant=owner,
            account_id=account_id,
            changes=EmailAccountUpdate.from_fields(fields),
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


def _progress_printer() -> Any:
    """`fetched N / M` on stderr: rewritten in place on a terminal, one line each otherwise."""
    import sys

    live = sys.stderr.isatty()
    state = {"shown": False}

    def show(done: int, total: int) -> None:
        line = f"fetched {done} / {total}"
        if live:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
            state["shown"] = True
        else:
            typer.echo(line, err=True)

    def end() -> None:
        if state["shown"]:
            sys.stderr.write("\n")
            sys.stderr.flush()

    show.end = end  # type: ignore[attr-defined]
    return show


@app.command("sync")
def sync(
    account_id: int,
    tenant: str = TENANT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fetch the account's new mail now (progress on stderr, summary on stdout).

    Exits 1 with the reason (authentication failed, certificate not trusted, connection refused,
    timeout…) when the sync fails; the reason is also kept as the account's last error. Runs
    even when scheduled syncs are stopped or backing off, but not after 3 failed logins in a day
    (the error says when it is allowed again).
    """
    import asyncio
    from dataclasses import asdict

    from core.services.accounts import get_email_account
    from core.services.inbound import sync_account

    ctx = context()
    with ctx.session() as session:
        account = get_email_account(
            session=session, tenant=_tenant(session, tenant), account_id=account_id
        )
        email = account.email
    show = _progress_printer()
    try:
        result = asyncio.run(
            sync_account(ctx=ctx, account_id=account_id, progress=show, manual=True)
        )
    finally:
        show.end()
    if as_json:
        print_json(asdict(result))
    if not result.ok:
        typer.echo(f"error: sync of {email} failed: {result.error}", err=True)
        raise typer.Exit(1)
    if not as_json:
        new = f"{result.fetched} new message{'s' if result.fetched != 1 else ''}"
        if result.quarantined:
            new += f" ({result.quarantined} quarantined)"
        typer.echo(f"{email}: {new}, {result.message_count} stored, in {result.duration_s:.1f} s")


@app.command("messages")
def messages(
    account_id: int,
    tenant: str = TENANT_OPTION,
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first (1-1000)."),
) -> None:
    """List the messages stored by the account's syncs, newest first."""
    from core.services.inbound import list_messages, message_public

    with context().session() as session:
        rows = [
            message_public(row)
            for row in list_messages(
                session=session,
                tenant=_tenant(session, tenant),
                account_id=account_id,
                limit=limit,
            )
        ]
    if as_json:
        print_json(to_jsonable(rows))
        return
    for row in rows:
        row["subject"] = _short(row["subject"] or row["quarantine_reason"] or "", 50)
        row["from"] = _short(row["from"] or "", 30)
        row["attachments"] = ", ".join(row["attachments"]) or None
        row["flags"] = " ".join(row["flags"]) or None
    print_table(
        rows,
        ["uid", "date", "from", "subject", "size", "attachments", "flags", "quarantined"],
    )


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
