"""`mailbell token …`: bearer tokens for the HTTP API, with scopes and an optional expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from core.vocabulary import TOKEN_SCOPES_DEFAULT, TokenScope
from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_json,
    print_table,
    to_jsonable,
)

app = typer.Typer(help="API tokens.", no_args_is_help=True)

_ALL = ",".join(TokenScope)
_DEFAULT = ",".join(scope.value for scope in TokenScope if scope in TOKEN_SCOPES_DEFAULT)


@app.command("create")
def create(
    tenant: str | None = typer.Option(None, help="Tenant the token acts on."),
    system: bool = typer.Option(False, "--system", help="A system token (any tenant)."),
    name: str = typer.Option("api", help="A label to recognise the token by."),
    scope: str = typer.Option(
        _DEFAULT,
        "--scope",
        metavar="SCOPES",
        help=(
            f"Comma-separated, of {_ALL}: read = every GET, write = every other change, "
            "events = POST /api/events only (give an event emitter just this), "
            "admin = tokens and tenants."
        ),
    ),
    expires: str | None = typer.Option(
        None,
        "--expires",
        metavar="WHEN",
        help="When it stops working: 30m, 12h, 90d, 2w from now, or an ISO date "
        "(2027-03-01, 00:00 UTC) or date and time. Default: never.",
    ),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from core.models._common import utcnow
    from core.services.tokens import create_token, parse_expiry, parse_scopes

    # Checked before the database is opened: a bad flag changes nothing.
    scopes = parse_scopes(scope, field="--scope")
    expires_at = parse_expiry(expires, now=utcnow(), field="--expires") if expires else None
    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        issued = create_token(
            session=session,
            tenant=owner,
            name=name,
            actor=actor(),
            scopes=scopes,
            expires_at=expires_at,
        )
        typer.echo(issued.plaintext)


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List tokens with their scopes and expiry (never the tokens themselves)."""
    from core.models._common import utcnow
    from core.services.tokens import list_tokens

    now = utcnow()
    with context().session() as session:
        tokens = list_tokens(session=session)
    rows: list[dict[str, Any]] = [
        {
            "id": token.id,
            "name": token.name,
            # `scope` is the token's owner (its name predates scopes; scripts read it)
            "scope": "system" if token.tenant_id is None else f"tenant:{token.tenant}",
            "scopes": [scope.value for scope in token.scopes],
            "expires_at": token.expires_at,
            "expired": token.expired(now),
            "prefix": token.prefix,
            "created_at": token.created_at,
            "last_used_at": token.last_used_at,
            "revoked": token.revoked,
        }
        for token in tokens
    ]
    if as_json:
        print_json(to_jsonable(rows))
        return
    table = [
        {
            **row,
            "owner": row["scope"],
            "scopes": ",".join(scope.value for scope in token.scopes),
            "expires": _expiry_cell(token.expires_at, token.expired(now)),
        }
        for row, token in zip(rows, tokens, strict=True)
    ]
    print_table(
        table, ["id", "name", "owner", "scopes", "expires", "prefix", "last_used_at", "revoked"]
    )


def _expiry_cell(at: datetime | None, expired: bool) -> str:
    if at is None:
        return "never"
    return f"{at:%Y-%m-%d %H:%M}" + (" (expired)" if expired else "")


@app.command("revoke")
def revoke(token_id: int = typer.Argument(help="The id from `token list`.")) -> None:
    """Revoke a token at once."""
    from core.services.tokens import revoke_token

    with context().session() as session:
        revoke_token(session=session, token_id=token_id, actor=actor())
        typer.echo(f"token {token_id} revoked")
