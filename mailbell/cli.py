"""The `mailbell` command: one Typer app, one module per group under mailbell/commands.

Nothing heavy is imported here: `mailbell --help` must not load SQLAlchemy, Textual or Slack.
Domain errors become one line on stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import sys

import typer

from core.errors import MailbellError
from mailbell.commands import (
    accounts,
    audit,
    db,
    delivery,
    demo,
    export,
    health,
    keys,
    mailtest,
    serve,
    server,
    settings,
    slack,
    ssh,
    template,
    tenant,
    token,
    webhook,
)

app = typer.Typer(
    name="mailbell",
    help="Notification mail for multi-tenant platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(tenant.app, name="tenant")
app.add_typer(token.app, name="token")
app.add_typer(keys.app, name="keys")
app.add_typer(settings.app, name="settings")
app.add_typer(server.app, name="server")
app.add_typer(accounts.app, name="accounts")
app.add_typer(template.app, name="template")
app.add_typer(slack.app, name="slack")
app.add_typer(webhook.app, name="webhook")
app.add_typer(health.app, name="health")
app.add_typer(audit.app, name="audit")
mailtest.register(server.app, app)
serve.register(app)
ssh.register(app)
export.register(app)
app.add_typer(delivery.deliveries_app, name="deliveries")
app.command("emit")(delivery.emit)
app.command("worker")(delivery.worker)
app.command("demo")(demo.demo)


@app.command("tui")
def tui(
    tenant: str | None = typer.Option(None, "--tenant", help="Open straight into a tenant."),
    as_key: str | None = typer.Option(
        None,
        "--as",
        metavar="NAME",
        help="Act as the SSH key NAME (`mailbell ssh key list`): its role and tenants only.",
    ),
) -> None:
    """The terminal UI (embedded SQLite database unless MAILBELL_DATABASE_URL is set)."""
    from mailbell.commands._common import context
    from tui.app import run_tui

    run_tui(context, tenant_slug=tenant, as_key=as_key)


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("sqlalchemy")


def run(argv: list[str] | None = None) -> int:
    """Run one command line; returns the exit code instead of exiting (tests call this)."""
    try:
        app(args=argv, prog_name="mailbell")
    except SystemExit as exc:  # the standalone app exits: 0, 2 for usage errors, 1 for aborts
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except MailbellError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    except Exception as exc:
        if _is_database_error(exc):
            reason = getattr(exc, "orig", None) or exc
            typer.echo(f"error: database: {reason}", err=True)
            return 1
        raise
    finally:
        from mailbell.commands._common import reset_context

        reset_context()
    return 0


def main() -> None:
    sys.exit(run())
