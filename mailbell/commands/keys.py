"""`mailbell keys …`: the key ring that encrypts stored secrets."""

from __future__ import annotations

import typer

from mailbell.commands._common import actor, context

app = typer.Typer(help="Secret keys.", no_args_is_help=True)


@app.command("rotate")
def rotate() -> None:
    """New primary key (key file or MAILBELL_SECRET_KEYS' first); every secret re-encrypted."""
    from core.services.keys import rotate_keys

    ctx = context()
    with ctx.session() as session:
        count = rotate_keys(session=session, box=ctx.box, actor=actor())
    typer.echo(
        f"{count} secrets re-encrypted under the new primary key ({ctx.box.source.description})"
    )
