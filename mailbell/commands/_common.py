"""What every command shares: the context, the acting user, JSON output, FIELD=VALUE parsing.

Imports of core (and so of SQLAlchemy) happen inside functions, so `mailbell --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from core.context import Context
    from core.services.audit import Actor

_context: Context | None = None


def context() -> Context:
    """The process's context, built on first use (settings from the environment, migrated)."""
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
    """The person at the terminal, as the audit log records them (source `cli`)."""
    from core.services.audit import local_actor

    return local_actor("cli")


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


def owner_tenant(session: Any, tenant: str | None, system: bool) -> Any:
    """The Tenant named by --tenant, or None for --system (exactly one must be given)."""
    require_owner(tenant, system)
    if system:
        return None
    from core.services.tenants import get_tenant

    assert tenant is not None
    return get_tenant(session=session, slug=tenant)


def to_jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 text, everything else as is."""
    from datetime import datetime

    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_fields(data: dict[str, Any]) -> None:
    """`field: value` lines for people; `--json` is for scripts."""
    width = max((len(key) for key in data), default=0)
    for key, value in data.items():
        shown = "" if value is None else value
        if isinstance(shown, bool):
            shown = "true" if shown else "false"
        typer.echo(f"{key.ljust(width)}  {shown}")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    typer.echo(
        "  ".join(
            column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)
        )
    )
    for line in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
