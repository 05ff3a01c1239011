"""`mailbell audit list|export`: who changed what, from where, and each field's value before and
after (a secret's as "changed").

`list` shows the newest entries (a table, or `--json` rows); `export` writes every matching entry
as JSON Lines, oldest first, read from the database in batches so the log of any size streams.
Core is imported inside the commands so `mailbell --help` stays light.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import context, print_json, print_table, usage_error

if TYPE_CHECKING:
    from core.models.audit import AuditEntryRead

app = typer.Typer(help="The audit log: who changed what, before and after.", no_args_is_help=True)

TENANT_OPTION = typer.Option(
    None, "--tenant", metavar="SLUG", help="Only entries of this tenant (deleted ones too)."
)
SINCE_OPTION = typer.Option(
    None,
    "--since",
    metavar="WHEN",
    help="Only entries from WHEN on: an ISO date or time (2026-12-01, 2026-12-01T09:00, UTC "
    "unless an offset is given) or an age (30m, 12h, 7d, 2w).",
)


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """`--since` as an aware UTC time; anything else is a usage error naming the option."""
    if text is None:
        return None
    from core.validation import point_in_time

    try:
        return point_in_time(text, now=now)
    except ValueError:
        raise usage_error(
            f"--since: {text!r} is neither an ISO date or time (2026-12-01, 2026-12-01T09:00) "
            "nor an age (30m, 12h, 7d, 2w)"
        ) from None


def row(entry: AuditEntryRead) -> dict[str, Any]:
    """An entry as `--json` and `export` give it (DESIGN: id, at, actor, source, tenant, action,
    target, changes)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "source": entry.source,
        "tenant": entry.tenant,
        "action": entry.action,
        "target": entry.target,
        "changes": {name: change.model_dump() for name, change in entry.changes.items()},
    }


@app.command("list")
def list_(
    tenant: str | None = TENANT_OPTION,
    since: str | None = SINCE_OPTION,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most N entries."),
    as_json: bool = typer.Option(False, "--json", help="JSON rows, for scripts."),
) -> None:
    """The newest entries first: when, who, from where, what, and each change."""
    from core.services.audit import changes_text, list_entries

    start = parse_since(since)
    with context().session() as session:
        entries = list_entries(session=session, tenant=tenant, since=start, limit=limit)
    if as_json:
        print_json([row(entry) for entry in entries])
        return
    print_table(
        [
            {
                "when": entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "who": entry.actor,
                "source": entry.source,
                "tenant": entry.tenant or "system",
                "action": entry.action,
                "target": entry.target,
                "changes": changes_text(entry),
            }
            for entry in entries
        ],
        ["when", "who", "source", "tenant", "action", "target", "changes"],
    )


@app.command("export")
def export(tenant: str | None = TENANT_OPTION, since: str | None = SINCE_OPTION) -> None:
    """Every matching entry as JSON Lines on stdout, oldest first (streamed in batches)."""
    from core.services.audit import EXPORT_BATCH, iter_entries

    start = parse_since(since)
    out = sys.stdout
    try:
        with context().session() as session:
            for count, entry in enumerate(
                iter_entries(session=session, tenant=tenant, since=start), start=1
            ):
                out.write(json.dumps(row(entry), ensure_ascii=False) + "\n")
                if count % EXPORT_BATCH == 0:
                    out.flush()
        out.flush()
    except BrokenPipeError:
        # The reader stopped (`| head`): not an error of ours. Python would complain again when
        # it flushes stdout at exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        raise typer.Exit(0) from None
