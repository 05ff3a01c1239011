"""`mailbell server …`: several SMTP servers per owner (a tenant or the system)."""

from __future__ import annotations

from typing import Any

import typer

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_fields,
    print_json,
    print_table,
    read_secret_argument,
    to_jsonable,
)

app = typer.Typer(help="Outbound SMTP mail servers.", no_args_is_help=True)

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug.")
SYSTEM_OPTION = typer.Option(False, "--system", help="The system's servers.")


OPTION_FIELDS = {
    "name": "name", "provider": "provider", "host": "host", "port": "port",
    "security": "security", "auth": "auth", "username": "username", "password": "password",
    "mail_from": "mail_from", "reply_to": "reply_to", "timeout": "timeout",
    "rate_limit": "rate_limit_per_minute", "tls_verify": "tls_verify", "ca_file": "ca_file",
    "oauth_client_id": "oauth_client_id", "oauth_client_secret": "oauth_client_secret",
    "oauth_directory_id": "oauth_directory_id", "proxy": "proxy",
    "proxy_password": "proxy_password",
}  # fmt: skip
PROXY_HELP = (
    "socks5://[USER[:PASS]@]HOST:PORT, socks5h://… or http://… (CONNECT); '' removes it; "
    "'-' reads it from stdin."
)


def _options(given: dict[str, Any]) -> dict[str, Any]:
    """The server options of `add`/`edit`, by service field name; secrets given as '-' read."""
    data = {field: given[option] for option, field in OPTION_FIELDS.items()}
    data["password"] = read_secret_argument(data["password"], "SMTP password")
    data["oauth_client_secret"] = read_secret_argument(
        data["oauth_client_secret"], "OAuth client secret"
    )
    data["ca_pem"] = _read_ca_pem(given["ca_pem_file"])
    if data["proxy"] == "-" and data["proxy_password"] == "-":
        raise typer.BadParameter("only one of --proxy and --proxy-password can read stdin")
    data["proxy"] = read_secret_argument(data["proxy"], "Proxy URL")
    data["proxy_password"] = read_secret_argument(data["proxy_password"], "Proxy password")
    return data


def _read_ca_pem(path: str | None) -> str | None:
    """The text of `--ca-pem-file` (stored with the server; '' clears it); the service checks
    that it holds certificates."""
    from core.errors import ValidationError
    from core.validation import CA_PEM_MAX_BYTES

    if path is None or path == "":
        return path
    try:
        with open(path, "rb") as handle:
            data = handle.read(CA_PEM_MAX_BYTES + 1)
    except OSError as exc:
        raise ValidationError("ca_pem", f"cannot read {path!r}: {exc.strerror or exc}") from None
    if len(data) > CA_PEM_MAX_BYTES:
        raise ValidationError("ca_pem", f"{path!r} is larger than 64 KB ({CA_PEM_MAX_BYTES})")
    return data.decode("utf-8", "replace")


def _fields(**options: Any) -> dict[str, Any]:
    """Options the user gave, by service field name (None means not given)."""
    return {name: value for name, value in options.items() if value is not None}


@app.command("add")
def add(
    name: str = typer.Option(..., help="Friendly label, e.g. 'Production SMTP'."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    provider: str | None = typer.Option(
        None, help="SMTP, GMAIL, MS365 or SENDGRID (fills presets)."
    ),
    host: str | None = typer.Option(None, help="SMTP host."),
    port: str | None = typer.Option(None, help="1-65535 (587 STARTTLS, 465 TLS, 25 plain)."),
    security: str | None = typer.Option(None, help="none, starttls-auto, starttls or tls."),
    auth: str | None = typer.Option(None, help="DISABLE, AUTO, LOGIN, PLAIN or XOAUTH2."),
    username: str | None = typer.Option(None, help="At most 128 characters."),
    password: str | None = typer.Option(None, help="'-' reads it from stdin."),
    mail_from: str | None = typer.Option(None, "--from", help="From address."),
    reply_to: str | None = typer.Option(None, help="Reply-To address."),
    timeout: str | None = typer.Option(None, help="Seconds per network step."),
    rate_limit: str | None = typer.Option(None, help="Messages per minute, 0 = no limit."),
    tls_verify: bool | None = typer.Option(None, "--tls-verify/--no-tls-verify"),
    ca_file: str | None = typer.Option(None, help="PEM bundle to trust as well."),
    ca_pem_file: str | None = typer.Option(
        None, help="PEM file whose certificates are stored with the server and trusted."
    ),
    oauth_client_id: str | None = typer.Option(None),
    oauth_client_secret: str | None = typer.Option(None, help="'-' reads it from stdin."),
    oauth_directory_id: str | None = typer.Option(None, help="Microsoft directory (tenant) id."),
    proxy: str | None = typer.Option(None, help=PROXY_HELP),
    proxy_password: str | None = typer.Option(
        None, help="The proxy's password (instead of in the URL); '-' reads it from stdin."
    ),
    default: bool = typer.Option(False, "--default", help="Make it the owner's default."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a mail server. The owner's first server becomes its default."""
    from core.models.mail import MailServerCreate
    from core.services.mail_servers import create_mail_server

    fields = _fields(**_options(locals()), is_default=default or None)
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
        server = create_mail_server(
            session=session,
            box=ctx.box,
            tenant=owner,
            data=MailServerCreate.from_fields(fields),
            actor=actor(),
        )
        if as_json:
            print_json(to_jsonable(server.model_dump()))
        else:
            typer.echo(
                f"mail server {server.id} ({server.name}) added"
                + (" as default" if server.default else "")
            )


@app.command("list")
def list_(
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the owner's servers (never a secret)."""
    from core.services.mail_servers import list_mail_servers

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        servers = list_mail_servers(session=session, tenant=owner)
    rows = [s.model_dump() for s in servers]
    if as_json:
        print_json(to_jsonable(rows))
        return
    for row in rows:
        row["tls"] = row["security"] + ("" if row["tls_verify"] else " (NOT VERIFIED)")
        row["login"] = _login_state(row)
    print_table(
        rows,
        ["id", "name", "default", "provider", "host", "port", "tls", "auth", "username", "login"],
    )
    for server in servers:  # what to do, spelled out under the table
        if server.auth_problem:
            typer.echo(f"server {server.id} ({server.name}): {server.auth_problem}")


def _login_state(row: dict[str, Any]) -> str | None:
    """The LOGIN column: OAuth authorization, or a pause after refused credentials."""
    if row["authorization"] == "revoked":
        return "REVOKED"
    if row["credentials_paused_until"] is not None:
        return "REFUSED"
    return str(row["authorization"]).replace("_", " ") if row["authorization"] else None


@app.command("show")
def show(
    server_id: int,
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one server (never a secret)."""
    from core.services.mail_servers import get_mail_server

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        server = get_mail_server(session=session, tenant=owner, server_id=server_id)
    data = to_jsonable(server.model_dump())
    if as_json:
        print_json(data)
        return
    print_fields(data)
    if server.auth_problem:
        typer.echo(f"problem: {server.auth_problem}")


@app.command("edit")
def edit(
    server_id: int,
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    name: str | None = typer.Option(None),
    provider: str | None = typer.Option(None, help="Changing it drops stored OAuth tokens."),
    host: str | None = typer.Option(None),
    port: str | None = typer.Option(None),
    security: str | None = typer.Option(None),
    auth: str | None = typer.Option(None),
    username: str | None = typer.Option(None),
    password: str | None = typer.Option(None, help="Empty keeps the stored one; '-' reads stdin."),
    mail_from: str | None = typer.Option(None, "--from"),
    reply_to: str | None = typer.Option(None),
    timeout: str | None = typer.Option(None),
    rate_limit: str | None = typer.Option(None),
    tls_verify: bool | None = typer.Option(None, "--tls-verify/--no-tls-verify"),
    ca_file: str | None = typer.Option(None),
    ca_pem_file: str | None = typer.Option(None, help="PEM file to store; '' clears it."),
    oauth_client_id: str | None = typer.Option(None),
    oauth_client_secret: str | None = typer.Option(None),
    oauth_directory_id: str | None = typer.Option(None),
    proxy: str | None = typer.Option(None, help=PROXY_HELP),
    proxy_password: str | None = typer.Option(
        None, help="Empty keeps the stored one (while the proxy URL is unchanged); '-' reads stdin."
    ),
) -> None:
    """Change some fields of a server; the others keep their values."""
    from core.models.mail import MailServerUpdate
    from core.services.mail_servers import get_mail_server, update_mail_server

    fields = _fields(**_options(locals()))
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
        get_mail_server(session=session, tenant=owner, server_id=server_id)  # a missing one first
        update_mail_server(
            session=session,
            box=ctx.box,
            tenant=owner,
            server_id=server_id,
            changes=MailServerUpdate.from_fields(fields),
            actor=actor(),
        )
    typer.echo(f"mail server {server_id} updated")


@app.command("default")
def default(
    server_id: int, tenant: str | None = TENANT_OPTION, system: bool = SYSTEM_OPTION
) -> None:
    """Make a server the owner's default (the previous default stops being one)."""
    from core.services.mail_servers import set_default_mail_server

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        server = set_default_mail_server(
            session=session, tenant=owner, server_id=server_id, actor=actor()
        )
    typer.echo(f"mail server {server.id} ({server.name}) is now the default")


@app.command("remove")
def remove(
    server_id: int,
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a server; accounts that used it lose their outbound path."""
    from core.services.mail_servers import delete_mail_server, get_mail_server

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        server = get_mail_server(session=session, tenant=owner, server_id=server_id)
        if not yes:
            typer.confirm(
                f"Are you sure you want to delete {server.name}? This cannot be undone.", abort=True
            )
        result = delete_mail_server(
            session=session, tenant=owner, server_id=server_id, actor=actor()
        )
    typer.echo(f"mail server {server_id} deleted")
    if result.detached_accounts:
        emails = ", ".join(a.email for a in result.detached_accounts)
        typer.echo(
            f"detached {len(result.detached_accounts)} account(s), "
            f"now without outbound mail: {emails}"
        )
    if result.new_default is not None:
        typer.echo(
            f"mail server {result.new_default.id} ({result.new_default.name}) is now the default"
        )
