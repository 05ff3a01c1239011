"""`mailbell slack admin add|remove|list`: who may run /mailbell commands.

Without `--tenant` the user is a system admin (every channel, and `link`); with it, an admin of
that tenant (only in channels linked to it). `MAILBELL_SLACK_ADMINS` adds system admins too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mailbell.commands._common import actor, context, print_json, print_table

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.models.tenancy import Tenant

app = typer.Typer(help="The Slack bot.", no_args_is_help=True)
admin_app = typer.Typer(help="Slack admins: who may run /mailbell commands.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug (default: a system admin).")


def _tenant(session: Session, slug: str | None) -> Tenant | None:
    if slug is None:
        return None
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=slug)


@admin_app.command("add")
def add(
    user_id: str = typer.Argument(help="Slack user id, like U0123ABCD (profile → Copy member ID)."),
    tenant: str | None = TENANT_OPTION,
    team: str = typer.Option("", "--team", help="Only in this workspace (team id, T…)."),
) -> None:
    """Make a Slack user a system admin, or with --tenant an admin of that tenant."""
    from core.services.slack_admins import add_admin

    with context().session() as session:
        owner = _tenant(session, tenant)
        view = add_admin(
            session=session,
            user_id=user_id,
            tenant=owner,
            team_id=team,
            actor=actor(),
        )
    typer.echo(f"{view.user_id} is now a Slack admin of {_owner(view.tenant)}")


@admin_app.command("remove")
def remove(
    user_id: str = typer.Argument(help="Slack user id."),
    tenant: str | None = TENANT_OPTION,
) -> None:
    """Remove a system admin, or with --tenant a tenant admin."""
    from core.services.slack_admins import remove_admin

    with context().session() as session:
        owner = _tenant(session, tenant)
        remove_admin(session=session, user_id=user_id, tenant=owner, actor=actor())
    typer.echo(f"{user_id.strip().upper()} is no longer a Slack admin of {_owner(tenant)}")


@admin_app.command("list")
def list_(
    tenant: str | None = TENANT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """System admins (MAILBELL_SLACK_ADMINS and added ones), or with --tenant that tenant's."""
    from core.services.slack_admins import list_admins

    ctx = context()
    with ctx.session() as session:
        owner = _tenant(session, tenant)
        views = list_admins(
            session=session,
            tenant=owner,
            admin_ids=ctx.settings.slack_admin_ids,
        )
    rows = [
        {"user_id": v.user_id, "team": v.team_id or None, "tenant": v.tenant, "source": v.source}
        for v in views
    ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["user_id", "team", "tenant", "source"])


def _owner(tenant: str | None) -> str:
    return f"tenant {tenant}" if tenant else "the system"
