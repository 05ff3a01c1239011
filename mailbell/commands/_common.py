"""What every command shares: the context, the acting user, JSON output, FIELD=VALUE parsing.

Imports of core (and so of SQLAlchemy) happen inside functions, so `mailbell --help` stays fast.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from core.context import Context
    from core.services.audit import Actor

_context: Context | None = None


def context() -> Context:
    """The process's context, built on first use (settings from the environment, schema upgraded)."""
    global _context
    if _context is None:
        from core.context import build_context

        _context = build_context()
    return _context


def reset_context() -> None:
    """Forget the cached context (tests run several commands in one process)."""
    global _context
    if _context is not None:
        _context.close()
    _context = None


def actor() -> Actor:
    from core.services.audit import Actor

    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = f"uid:{os.getuid()}"
    return Actor(name=name, source="cli")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def usage_error(message: str) -> typer.Exit:
    typer.echo(f"usage error: {message}", err=True)
    return typer.Exit(2)


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`FIELD=VALUE` words into a dict; anything else is a usage error (exit 2)."""
    changes: dict[str, str] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise usage_error(f"expected FIELD=VALUE, got {item!r}")
        changes[field.strip()] = value
    return changes


def read_secret_argument(value: str | None, prompt: str) -> str | None:
    """`-` means: read the secret from stdin (or a hidden prompt), keeping it out of `ps`."""
    if value != "-":
        return value
    if sys.stdin.isatty():
        return typer.prompt(prompt, hide_input=True)
    return sys.stdin.readline().rstrip("\n")


def require_owner(tenant: str | None, system: bool) -> None:
    if bool(tenant) == system:
        raise usage_error("give exactly one of --tenant SLUG or --system")
