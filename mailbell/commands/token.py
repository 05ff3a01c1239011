"""`mailbell token …`: bearer tokens for the HTTP API."""

from __future__ import annotations

import typer

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_json,
    print_table,
    to_jsonable,
)

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: str | None = typer.Option(None, help="Tenant the token acts on."),
    system: bool = typer.Option(False, "--system", help="A system token (any tenant)."),
    name: str = typer.Option("api", help="A label to recognise the token by."),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from core.services.tokens import create_token

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        issued = create_token(session=session, tenant=owner, name=name, actor=actor())
        typer.echo(issued.plaintext)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List tokens (never the tokens themselves)."""
    from core.services.tokens import list_tokens

    with context().session() as session:
        rows = [
            {
                "id": token.id,
                "name": token.name,
                "scope": (
                    "system"
                    if token.tenant_id is None
                    else f"tenant:{token.tenant or token.tenant_id}"
                ),
                "prefix": token.prefix,
                "created_at": token.created_at,
                "last_used_at": token.last_used_at,
                "revoked": token.revoked,
            }
            for token in list_tokens(session=session)
        ]
        if as_json:
            print_json(to_jsonable(rows))
        else:
            print_table(
                rows, ["id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked"]
            )


@app.command("revoke")
def revoke(token_id: int = typer.Argument(help="The id from `token list`.")) -> None:
    """Revoke a token at once."""
    from core.services.tokens import revoke_token

    with context().session() as session:
        revoke_token(session=session, token_id=token_id, actor=actor())
        typer.echo(f"token {token_id} revoked")
