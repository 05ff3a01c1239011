"""`mailbell ssh [--host H] [--port N]`: the TUI served over SSH (tui/ssh); and
`mailbell ssh key add|list|remove`: who may connect, as what (core/ssh_keys.py).

asyncssh and the server are imported only when the server runs, so `mailbell --help` stays light.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from mailbell.commands._common import context, print_json, print_table

if TYPE_CHECKING:
    from core.config import Settings
    from core.context import Context

app = typer.Typer(
    help="The terminal UI over SSH, and the keys that may open it.",
    invoke_without_command=True,
    no_args_is_help=False,
)
key_app = typer.Typer(help="Console keys: name, role, tenants.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@app.callback()
def ssh(
    ctx: typer.Context,
    host: str = typer.Option("0.0.0.0", "--host", help="Address to listen on."),
    port: int = typer.Option(
        2222, "--port", min=0, max=65535, help="TCP port (0: any free port, printed)."
    ),
) -> None:
    """Serve the TUI over SSH until Ctrl-C or SIGTERM (each connection: its own session)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from mailbell.serve import configure_logging

    configure_logging("info")
    settings = context().settings  # the database is migrated once here, not by each session
    code = asyncio.run(_serve(settings, host, port))
    if code:
        raise typer.Exit(code)


async def _serve(settings: Settings, host: str, port: int) -> int:
    import asyncio
    import contextlib
    import signal

    from tui.ssh.server import ConsoleServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before listening: a client may come at once
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    server = ConsoleServer(settings)
    try:
        fingerprint = await server.start(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        return 1
    typer.echo(f"mailbell ssh: listening on {host}:{server.port}; host key {fingerprint}")
    await stop.wait()
    typer.echo("mailbell ssh: stopping (ending every session)")
    await server.close()
    return 0


@key_app.command("add")
def add(
    name: str = typer.Option(..., "--name", help="The key's name (audit log: NAME@ADDRESS)."),
    role: str = typer.Option(..., "--role", help="system-admin, tenant-admin or viewer."),
    tenants: str | None = typer.Option(
        None, "--tenants", metavar="SLUG,…", help="Tenants it covers (a viewer: all if omitted)."
    ),
    key: str = typer.Option(
        ..., "--key", help='The public key line ("ssh-ed25519 AAAA… me"), or - for stdin.'
    ),
) -> None:
    """Let a public key open the console, with a role."""
    from core.errors import ValidationError
    from core.ssh_keys import add_key, make_key

    key_line = sys.stdin.readline().strip() if key == "-" else key
    slugs = [slug.strip() for slug in tenants.split(",") if slug.strip()] if tenants else None
    try:
        made = make_key(name=name, role=role, tenants=slugs, key_line=key_line)
    except ValidationError as exc:
        raise ValidationError(f"--{exc.field}", exc.message) from None
    ctx = context()
    if made.tenants:
        _check_tenants_exist(ctx, sorted(made.tenants))
    add_key(ctx.settings.ssh_keys_file, made)
    covered = made.grant.describe()
    typer.echo(f"SSH key {made.name} added: {covered}, {made.fingerprint}")


def _check_tenants_exist(ctx: Context, slugs: list[str]) -> None:
    from core.errors import NotFound
    from core.services.tenants import list_tenants

    with ctx.session() as session:
        known = {tenant.slug for tenant in list_tenants(session=session)}
    missing = [slug for slug in slugs if slug not in known]
    if missing:
        raise NotFound(f"--tenants: no tenant {', '.join(missing)} (see `mailbell tenant list`)")


@key_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The console keys: name, role, tenants, fingerprint (never the key itself)."""
    from core.ssh_keys import read_keys

    keys = read_keys(context().settings.ssh_keys_file)
    if as_json:
        print_json([key.as_json() for key in keys])
        return
    rows = []
    for key in keys:
        data = key.as_json()
        tenants = data["tenants"]
        data["tenants"] = "*" if tenants is None else ",".join(tenants)  # type: ignore[arg-type]
        rows.append(data)
    print_table(rows, ["name", "role", "tenants", "key_type", "fingerprint", "comment"])


@key_app.command("remove")
def remove(name: str = typer.Argument(help="The key's name (`mailbell ssh key list`).")) -> None:
    """Stop a key opening the console: new logins at once; open sessions run on."""
    from core.ssh_keys import remove_key

    removed = remove_key(context().settings.ssh_keys_file, name)
    typer.echo(f"SSH key {removed.name} removed ({removed.fingerprint})")


def register(root_app: typer.Typer) -> None:
    """Add `ssh` to the root command."""
    root_app.add_typer(app, name="ssh")
