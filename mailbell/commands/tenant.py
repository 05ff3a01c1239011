"""`mailbell tenant …`: the tenants of the platform."""

from __future__ import annotations

import typer

from mailbell.commands._common import actor, context, print_json, print_table

app = typer.Typer(help="Tenants.", no_args_is_help=True)


@app.command("add")
def add(
    slug: str = typer.Argument(help="Short id: lowercase letters, digits, hyphens."),
    name: str | None = typer.Option(None, help="Display name (default: the slug)."),
) -> None:
    """Create a tenant."""
    from core.services.tenants import create_tenant

    with context().session() as session:
        tenant = create_tenant(session=session, slug=slug, name=name, actor=actor())
        typer.echo(f"tenant {tenant.slug} created")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List tenants with the mail server that sends their mail."""
    from core.services.mail_servers import resolve_effective_server
    from core.services.tenants import list_tenants

    with context().session() as session:
        tenants = list_tenants(session=session)
        if as_json:
            print_json([{"slug": t.slug, "name": t.name} for t in tenants])
            return
        rows = []
        for tenant in tenants:
            effective = resolve_effective_server(session=session, tenant=tenant)
            server = effective.server
            rows.append(
                {
                    "slug": tenant.slug,
                    "name": tenant.name,
                    "mail server": f"{server.name} ({server.host}, {effective.source})"
                    if server
                    else "not configured",
                }
            )
        print_table(rows, ["slug", "name", "mail server"])


@app.command("rename")
def rename(slug: str, name: str) -> None:
    """Change a tenant's display name."""
    from core.services.tenants import rename_tenant

    with context().session() as session:
        rename_tenant(session=session, slug=slug, name=name, actor=actor())
        typer.echo(f"tenant {slug} renamed")


@app.command("remove")
def remove(
    slug: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a tenant with its servers, accounts, settings, templates and tokens."""
    from core.services.tenants import delete_tenant

    if not yes:
        typer.confirm(f"Are you sure you want to delete {slug}? This cannot be undone.", abort=True)
    with context().session() as session:
        delete_tenant(session=session, slug=slug, actor=actor())
        typer.echo(f"tenant {slug} deleted")
