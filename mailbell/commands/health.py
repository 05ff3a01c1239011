"""`mailbell health [check] [--tenant SLUG | --system] [--json]`: the health watch's states.

`health` prints the states as they are stored (what `mailbell serve`'s checks found);
`health check` runs every check of the scope once now, then prints the same. One run is one
result per subject: a state changes when two consecutive results agree, so a new problem shows
after the second `health check`. Exit 0 when every state is ok, 1 otherwise (`unknown`
included: nobody has seen that subject work yet).

Core is imported inside the commands so `mailbell --help` stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import print_json, print_table, usage_error

if TYPE_CHECKING:
    from core.models.health import HealthRead
    from core.models.tenancy import Tenant

app = typer.Typer(
    help="Health watch: mail servers, accounts, Slack, queues and the service itself "
    "(exit 0 when every state is ok, 1 otherwise).",
    invoke_without_command=True,
)

TENANT_OPTION = typer.Option(None, "--tenant", help="Only this tenant's subjects.")
SYSTEM_OPTION = typer.Option(False, "--system", help="Only the system's subjects.")
JSON_OPTION = typer.Option(False, "--json", help="A JSON list of {kind, tenant, subject, ...}.")


def _scope(session: Any, tenant: str | None, system: bool) -> Tenant | None:
    if tenant and system:
        raise usage_error("give at most one of --tenant SLUG or --system")
    if not tenant:
        return None
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=tenant)


def _row(read: HealthRead) -> dict[str, Any]:
    from core.vocabulary import HEALTH_GLYPHS

    return {
        "state": f"{HEALTH_GLYPHS[read.state]} {read.state.value}",
        "kind": read.kind.value,
        "tenant": read.tenant or "system",
        "subject": read.subject,
        "since": read.since,
        "reason": read.reason,
    }


def _summary(reads: list[HealthRead]) -> str:
    from collections import Counter

    counts = Counter(read.state.value for read in reads)
    parts = [f"{counts[state]} {state}" for state in ("critical", "warning", "unknown", "ok")]
    return f"{len(reads)} subjects: " + ", ".join(p for p in parts if not p.startswith("0 "))


def _print(reads: list[HealthRead], as_json: bool) -> None:
    """Print the states; exit 1 unless every one is ok."""
    from core.vocabulary import HealthState

    if as_json:
        print_json([read.wire() for read in reads])
    elif not reads:
        typer.echo(
            "no health subjects yet: `mailbell serve` checks every MAILBELL_HEALTH_INTERVAL_S "
            "seconds, `mailbell health check` now"
        )
    else:
        print_table([_row(read) for read in reads], list(_row(reads[0])))
        typer.echo(_summary(reads))
    if any(read.state != HealthState.OK for read in reads):
        raise typer.Exit(1)


@app.callback()
def show(
    typer_ctx: typer.Context,
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Every watched subject: state, kind, tenant, subject, since when, why. Exit 0 when every
    state is ok, 1 otherwise."""
    if typer_ctx.invoked_subcommand is not None:
        if tenant or system or as_json:
            raise usage_error(f"give the options after `health {typer_ctx.invoked_subcommand}`")
        return
    from core.services.health import get_health
    from mailbell.commands._common import context

    with context().session() as session:
        owner = _scope(session, tenant, system)
        reads = get_health(session=session, tenant=owner, system=system)
    _print(reads, as_json)


class _OneLine(logging.Formatter):
    """A check that fails is one line on stderr, never a traceback (its subjects keep their
    states, which the list then shows)."""

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        return f"warning: {record.getMessage()}" + (f" ({type(error).__name__})" if error else "")


@contextlib.contextmanager
def _checks_say_one_line() -> Iterator[None]:
    logger = logging.getLogger("mailbell.health")
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine())
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@app.command("check")
def check(
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the checks now (one result per subject), then print the states like `health`."""
    from core.services.health import check_now
    from mailbell.commands._common import context

    ctx = context()
    with ctx.session() as session:
        owner = _scope(session, tenant, system)  # read: usable once the session is closed
    with _checks_say_one_line():
        reads = asyncio.run(check_now(ctx, tenant=owner, system=system))
    _print(reads, as_json)
