"""`mailbell server test`, `mailbell test-email` and `mailbell oauth authorize`.

Mounted by `register(server_app, root_app)`. Core modules are imported inside the commands
so `mailbell --help` loads neither SQLAlchemy nor aiosmtplib.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_json,
    usage_error,
)

if TYPE_CHECKING:
    from core.mail.connection_report import ConnectionReport

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug.")
SYSTEM_OPTION = typer.Option(False, "--system", help="The system's mail server.")
DEFAULT_SUBJECT = "mailbell test email"
DEFAULT_CONTENT = "This is a test email from mailbell: the mail server settings work."

oauth_app = typer.Typer(help="OAuth 2.0 for XOAUTH2 mail servers.", no_args_is_help=True)


def register(server_app: typer.Typer, root_app: typer.Typer) -> None:
    """Add `server test`, `test-email` and the `oauth` group (a second call changes nothing)."""
    if not any(c.callback is server_test for c in server_app.registered_commands):
        server_app.command("test")(server_test)
    if not any(c.callback is test_email for c in root_app.registered_commands):
        root_app.command("test-email")(test_email)
    if not any(g.typer_instance is oauth_app for g in root_app.registered_groups):
        root_app.add_typer(oauth_app, name="oauth")


def print_report(report: ConnectionReport) -> None:
    for step in report.steps:
        mark = "✓" if step.ok else "✗"
        typer.echo(f"{mark} {step.step:<9} {step.detail}")
        if step.reply and not step.ok and step.reply not in step.detail:
            typer.echo(f"  {'':<9} reply: {step.reply}")
        if step.hint:
            typer.echo(f"  {'':<9} hint: {step.hint}")
    if report.ok:
        typer.echo(f"ok: {report.summary()}")
    else:
        failed = report.failed
        typer.echo(f"failed at {failed.step if failed else '?'}")


# `server add`'s options that are not settings of a server, or that a test names its own way.
_NOT_SETTINGS = ("name", "tenant", "system", "default", "as_json")
SERVER_OPTION = typer.Option(
    None, "--server", help="A saved server of the owner (see `server list`), default or not."
)


def with_server_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` also takes every server option of `server add` (its own signature, so an
    option added there is taken here too), passed in `**settings`: the unsaved settings."""
    from mailbell.commands.server import add

    own = inspect.signature(command, eval_str=True).parameters
    options = [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for name, parameter in inspect.signature(add, eval_str=True).parameters.items()
        if name not in _NOT_SETTINGS and name not in own
    ]
    fixed = [p for p in own.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    command.__signature__ = inspect.Signature([*fixed, *options])  # type: ignore[attr-defined]
    return command


def _unsaved(settings: dict[str, Any], **fixed: Any) -> dict[str, Any]:
    """The server options given, by service field name (secrets given as '-' read)."""
    from mailbell.commands.server import _fields, _options

    fields = _fields(**_options({"name": None, **fixed, **settings}))
    fields.pop("name", None)
    return fields


def _pick(server_id: int | None, server: int | None) -> int | None:
    if server_id is not None and server is not None and server_id != server:
        raise usage_error("give the server once: SERVER_ID or --server ID")
    return server if server is not None else server_id


@with_server_options
def server_test(
    server_id: int | None = typer.Argument(None, help="Server id (see `server list`)."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    server: int | None = SERVER_OPTION,
    mail_from: str | None = typer.Option(
        None, "--from", help="Sender for the MAIL FROM check (default: the server's From)."
    ),
    as_json: bool = typer.Option(False, "--json"),
    **settings: Any,
) -> None:
    """Test connection step by step (DNS, TCP, TLS, EHLO, STARTTLS, AUTH, MAIL); sends nothing.

    A saved server: SERVER_ID or --server ID; with server options too, its unsaved changes.

    Unsaved settings: the options of `server add` (--host, --port, …); nothing is stored.
    """
    from core.services.mail_tests import test_mail_server

    chosen = _pick(server_id, server)
    changes = _unsaved(settings, mail_from=None)
    if chosen is None and not changes:
        raise usage_error("give a server (SERVER_ID or --server ID) or settings (--host …)")
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
    report = asyncio.run(
        test_mail_server(
            ctx=ctx,
            tenant=owner,
            server_id=chosen,
            changes=changes or None,
            mail_from=mail_from,
            actor=actor(),
        )
    )
    if as_json:
        print_json(report.as_dict())
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@with_server_options
def test_email(
    to: str = typer.Option(..., "--to", help="Recipient address."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    server: int | None = SERVER_OPTION,
    subject: str = typer.Option(DEFAULT_SUBJECT, "--subject"),
    content: str = typer.Option(DEFAULT_CONTENT, "--content"),
    as_json: bool = typer.Option(False, "--json"),
    **settings: Any,
) -> None:
    """Send a test email now (not through the queue), by default through the effective server.

    Another saved server: --server ID; with server options too, its unsaved changes.

    Unsaved settings: the options of `server add` (--host, --port, …); nothing is stored.
    """
    from core.services.mail_tests import send_test_email

    changes = _unsaved(settings)
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
    result = asyncio.run(
        send_test_email(
            ctx=ctx,
            tenant=owner,
            recipient=to,
            subject=subject,
            content=content,
            server_id=server,
            changes=changes or None,
            actor=actor(),
        )
    )
    if as_json:
        print_json(result.as_dict())
    elif result.ok:
        typer.echo(
            f"sent to {to} through {_through(result)}: {result.reply} "
            f"(Message-ID {result.message_id})"
        )
    else:
        typer.echo(f"error: test email failed at {result.step}: {result.error}", err=True)
    if not result.ok:
        raise typer.Exit(1)


def _through(result: Any) -> str:
    if result.server_id is None:
        return "the unsaved settings"
    saved = f"mail server {result.server_id}"
    return f"{saved} with unsaved changes" if result.unsaved else saved


def _server_owner(session: Any, server: Any) -> Any:
    from core.models.tenancy import Tenant

    return session.get(Tenant, server.tenant_id) if server.tenant_id is not None else None


def _find_server(session: Any, server_id: int, tenant: str | None, system: bool) -> Any:
    if tenant and system:
        raise usage_error("give at most one of --tenant SLUG or --system")
    if tenant or system:
        from core.services.mail_servers import mail_server_row

        owner = owner_tenant(session, tenant, system)
        return mail_server_row(session=session, tenant=owner, server_id=server_id)
    from core.errors import NotFound
    from core.models.mail import MailServer

    server = session.get(MailServer, server_id)
    if server is None:
        raise NotFound(f"mail server {server_id} does not exist (see `mailbell server list`)")
    return server


def _read_pasted() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Redirect URL", default="", show_default=False))
    return sys.stdin.readline()


@oauth_app.command("authorize")
def authorize(
    server: int = typer.Option(..., "--server", help="Mail server id (see `server list`)."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
) -> None:
    """Authorize a GMAIL or MS365 server for XOAUTH2 from any terminal (no local browser).

    Open the printed consent URL in any browser, sign in and accept.

    Then paste the address the browser was sent to (the page may not load: that is fine).
    """
    from core.services.oauth_authorization import complete_authorization, start_authorization

    ctx = context()
    with ctx.session() as session:
        row = _find_server(session, server, tenant, system)
        started = start_authorization(
            session=session,
            settings=ctx.settings,
            box=ctx.box,
            tenant=_server_owner(session, row),
            server_id=server,
        )
    typer.echo("1. Open this address in a browser, sign in and accept:")
    typer.echo("")
    typer.echo(started.url)
    typer.echo("")
    typer.echo(
        f"2. The browser is sent to {started.redirect_uri}?code=… (the page may not load). "
        "Copy that whole address from the address bar and paste it here:"
    )
    done = asyncio.run(
        complete_authorization(ctx=ctx, start=started, actor=actor(), redirect_url=_read_pasted())
    )
    typer.echo(
        f"mail server {server} authorized: refresh token stored (encrypted); access token valid "
        f"until {done.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    if done.auth != "XOAUTH2":
        typer.echo(
            f"note: the server's auth is {done.auth}; set it to XOAUTH2 to send with OAuth: "
            f"mailbell server edit {server} --auth XOAUTH2 …"
        )
