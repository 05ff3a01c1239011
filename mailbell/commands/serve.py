"""`mailbell serve [--host 127.0.0.1] [--port 8080] [--no-worker] [--ssh [--ssh-host H]
[--ssh-port N]]` (see mailbell/serve.py).

Mounted by `register(app)`; aiohttp, SQLAlchemy and the worker are imported only when the
command runs, so `mailbell --help` stays light.
"""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(
        8080, "--port", min=0, max=65535, help="TCP port (0: any free port, logged)."
    ),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Serve HTTP (and Slack) only: no delivery worker, no IMAP sync."
    ),
    ssh: bool = typer.Option(False, "--ssh", help="Serve the TUI over SSH too (mailbell ssh)."),
    ssh_host: str = typer.Option("0.0.0.0", "--ssh-host", help="With --ssh: address to listen on."),
    ssh_port: int = typer.Option(
        2222, "--ssh-port", min=0, max=65535, help="With --ssh: TCP port (0: any free port)."
    ),
    log_level: str = typer.Option(
        "info", "--log-level", help="debug, info, warning or error (JSON lines on stderr)."
    ),
) -> None:
    """HTTP API, Slack endpoint, delivery worker and IMAP scheduler in one process."""
    import asyncio

    from mailbell.commands._common import context, usage_error
    from mailbell.serve import configure_logging
    from mailbell.serve import serve as run

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise usage_error(f"--log-level must be debug, info, warning or error, not {log_level!r}")
    configure_logging(log_level)
    ctx = context()
    console = (ssh_host, ssh_port) if ssh else None
    code = asyncio.run(run(ctx, host=host, port=port, worker=not no_worker, ssh=console))
    if code:
        raise typer.Exit(code)


def register(root_app: typer.Typer) -> None:
    """Add `serve` to the root command."""
    root_app.command("serve")(serve)
