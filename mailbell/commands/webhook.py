"""`mailbell webhook add|list|remove|test`: signed JSON POSTs of a tenant's or the system's events.

The secret is write-only: `--secret -` reads it from stdin (kept out of `ps`), and nothing here
ever prints it. Core is imported inside the commands so `mailbell --help` stays light.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_json,
    print_table,
    read_secret_argument,
    to_jsonable,
    usage_error,
)

if TYPE_CHECKING:
    from core.models.tenancy import Tenant
    from core.models.webhooks import WebhookRead

app = typer.Typer(help="Webhooks: events POSTed as signed JSON.", no_args_is_help=True)

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug.")
SYSTEM_OPTION = typer.Option(False, "--system", help="The system's webhooks (system events).")


def _row(hook: WebhookRead) -> dict[str, Any]:
    """A `webhook list --json` row: never the secret, only whether there is one."""
    return {
        "id": hook.id,
        "tenant": hook.tenant,
        "url": hook.url,
        "events": hook.events,
        "has_secret": hook.has_secret,
        "created_at": hook.created_at,
    }


def _events(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _owner_of(session: Any, webhook_id: int, tenant: str | None, system: bool) -> Tenant | None:
    """The owner named by --tenant/--system, or else the webhook's own owner (the CLI is the
    operator's: `webhook remove ID` needs no scope)."""
    if tenant and system:
        raise usage_error("give at most one of --tenant SLUG or --system")
    if tenant or system:
        return owner_tenant(session, tenant, system)
    from core.errors import NotFound
    from core.models.tenancy import Tenant
    from core.models.webhooks import WebhookTarget
    from core.services.webhooks import names_a_webhook

    target = session.get(WebhookTarget, webhook_id) if names_a_webhook(webhook_id) else None
    if target is None:
        raise NotFound(f"webhook {webhook_id} does not exist (see `mailbell webhook list`)")
    return session.get(Tenant, target.tenant_id) if target.tenant_id is not None else None


@app.command("add")
def add(
    url: str = typer.Option(..., "--url", help="Where each event is POSTed (http or https)."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    secret: str | None = typer.Option(
        None, "--secret", help="Shared secret signing each POST; '-' reads it from stdin."
    ),
    events: str | None = typer.Option(
        None, "--events", help="Comma-separated event names (default: every event)."
    ),
) -> None:
    """Add a webhook; prints its id."""
    from core.models.webhooks import WebhookCreate
    from core.services.webhooks import add_webhook

    secret = read_secret_argument(secret, "Webhook secret")
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
        hook = add_webhook(
            session=session,
            box=ctx.box,
            tenant=owner,
            data=WebhookCreate(url=url, secret=secret or None, events=_events(events)),
            actor=actor(),
        )
    typer.echo(hook.id)


@app.command("list")
def list_(
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the webhooks of a tenant or of the system (never their secrets)."""
    from core.services.webhooks import list_webhooks

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        rows = [_row(hook) for hook in list_webhooks(session=session, tenant=owner)]
    if as_json:
        print_json(to_jsonable(rows))
        return
    shown = [
        {**row, "events": ",".join(row["events"]) or "all", "signed": row["has_secret"]}
        for row in rows
    ]
    print_table(shown, ["id", "url", "events", "signed", "created_at"])


@app.command("remove")
def remove(
    webhook_id: int = typer.Argument(..., help="Webhook id (see `webhook list`)."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
) -> None:
    """Remove a webhook (deliveries already made stay in the log)."""
    from core.services.webhooks import remove_webhook

    with context().session() as session:
        owner = _owner_of(session, webhook_id, tenant, system)
        remove_webhook(session=session, tenant=owner, webhook_id=webhook_id, actor=actor())
    typer.echo(f"webhook {webhook_id} removed")


@app.command("test")
def test(
    webhook_id: int = typer.Argument(..., help="Webhook id (see `webhook list`)."),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    event: str | None = typer.Option(None, "--event", help="Event to send a sample of."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """POST a signed sample event now (not through the queue); exit 1 unless it got a 2xx."""
    from core.services.webhooks import test_webhook

    ctx = context()
    with ctx.session() as session:
        owner = _owner_of(session, webhook_id, tenant, system)
    result = asyncio.run(test_webhook(ctx=ctx, tenant=owner, webhook_id=webhook_id, event=event))
    if as_json:
        print_json(result.model_dump())
    elif result.ok:
        typer.echo(f"ok: webhook {webhook_id} answered {result.status}: {result.detail}")
    else:
        typer.echo(f"error: webhook {webhook_id} test failed: {result.detail}", err=True)
    if not result.ok:
        raise typer.Exit(1)
