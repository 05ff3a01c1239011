"""`mailbell export` and `mailbell import`: an owner's settings as a JSON document and back.

Secrets stay out of the document unless `--with-secrets --passphrase-file F` seals them under
the passphrase; an import applies the document in one transaction and never deletes. Core is
imported inside the commands so `mailbell --help` stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import actor, context, usage_error

if TYPE_CHECKING:
    from core.services.settings_document import Scope

PASSPHRASE_FILE_OPTION = typer.Option(
    None,
    "--passphrase-file",
    metavar="F",
    help="A file whose first line is the passphrase sealing the secrets ('-': stdin).",
)


def _passphrase(path: Path | None) -> str | None:
    """The first line of the file: a passphrase never travels on the command line (`ps`)."""
    if path is None:
        return None
    from core.errors import ValidationError

    try:
        text = sys.stdin.readline() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("passphrase-file", f"cannot be read: {exc}") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def export(
    tenant: str | None = typer.Option(None, "--tenant", help="Export this tenant."),
    system: bool = typer.Option(False, "--system", help="Export the system's settings."),
    all_: bool = typer.Option(False, "--all", help="Export the system and every tenant."),
    with_secrets: bool = typer.Option(
        False, "--with-secrets", help="Include secrets, sealed under --passphrase-file's."
    ),
    passphrase_file: Path | None = PASSPHRASE_FILE_OPTION,
) -> None:
    """Write settings, servers, accounts, templates, webhooks and Slack routes as JSON."""
    if [bool(tenant), system, all_].count(True) != 1:
        raise usage_error("give exactly one of --tenant SLUG, --system or --all")
    if with_secrets != (passphrase_file is not None):
        raise usage_error("--with-secrets and --passphrase-file F go together")
    from core.services.settings_export import export_settings

    scope: Scope = "tenant" if tenant else "system" if system else "all"
    passphrase = _passphrase(passphrase_file)
    ctx = context()
    with ctx.session() as session:
        document = export_settings(
            session=session,
            box=ctx.box,
            scope=scope,
            tenant_slug=tenant,
            passphrase=passphrase,
        )
    typer.echo(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))


def _read_document(file: str) -> Any:
    from core.errors import ValidationError

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("FILE", f"cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "FILE", f"is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def import_(
    file: str = typer.Argument(..., help="A file from `mailbell export`; '-' reads stdin."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; change nothing."
    ),
    passphrase_file: Path | None = PASSPHRASE_FILE_OPTION,
) -> None:
    """Apply an export in one transaction: create what is missing, update what differs."""
    if file == "-" and passphrase_file is not None and str(passphrase_file) == "-":
        raise usage_error("FILE and --passphrase-file cannot both be stdin")
    from core.services.settings_import import import_settings

    document = _read_document(file)
    passphrase = _passphrase(passphrase_file)
    ctx = context()
    with ctx.session() as session:
        report = import_settings(
            session=session,
            box=ctx.box,
            document=document,
            actor=actor(),
            dry_run=dry_run,
            passphrase=passphrase,
        )
    for item in report.items:
        typer.echo(item.line())
    typer.echo(report.summary())


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
