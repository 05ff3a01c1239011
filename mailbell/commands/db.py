"""`mailbell db …`: schema migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration (also done automatically on start)."""
    from core.config import load_settings
    from core.context import build_context
    from core.db import current_revision

    ctx = build_context(load_settings(), migrate=True)
    try:
        typer.echo(f"database at revision {current_revision(ctx.engine)}")
    finally:
        ctx.close()
