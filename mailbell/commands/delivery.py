"""`mailbell emit`, `mailbell worker`, `mailbell deliveries …`: the outbox from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    print_fields,
    print_json,
    print_table,
    to_jsonable,
    usage_error,
)

deliveries_app = typer.Typer(help="The delivery log.", no_args_is_help=True)

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug.")


def _load_data(data: str | None, data_file: Path | None) -> dict[str, Any]:
    if (data is None) == (data_file is None):
        raise usage_error("give exactly one of --data JSON or --data-file PATH")
    try:
        text = data if data is not None else Path(data_file or "").read_text(encoding="utf-8")
        loaded = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        from core.errors import ValidationError

        raise ValidationError("data", f"is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        from core.errors import ValidationError

        raise ValidationError("data", "is not valid JSON: the file is not UTF-8") from None
    except ValueError:  # Python refuses to convert an integer of over 4,300 digits
        from core.errors import ValidationError

        raise ValidationError("data", "is not valid JSON: a number has over 4300 digits") from None
    if not isinstance(loaded, dict):
        from core.errors import ValidationError

        raise ValidationError("data", "must be a JSON object")
    return loaded


def emit(
    event: str = typer.Argument(help="Event/template name, e.g. QUEUE_CALL_LOST."),
    tenant: str | None = TENANT_OPTION,
    system: bool = typer.Option(False, "--system", help="A system-scope event."),
    data: str | None = typer.Option(None, "--data", help="Payload as a JSON object."),
    data_file: Path | None = typer.Option(None, "--data-file", help="Payload from a JSON file."),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: a repeat sends nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Record an event and queue its notifications; prints one delivery id a line.

    A voicemail recording given as a URL is fetched first (no network fence: the operator's
    own command); when it cannot be, the mail goes out without it and says why."""
    import asyncio

    from core.attachments.fetch import fetch_payload_files, wants_fetch
    from core.pipeline.emit import emit as emit_event
    from core.services.deliveries import delivery_public

    payload = _load_data(data, data_file)
    if wants_fetch(event, payload):
        payload = asyncio.run(fetch_payload_files(event, payload, fenced=False))
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
        result = emit_event(
            session=session, box=ctx.box, tenant=owner, event=event, data=payload, key=key
        )
        slug = owner.slug if owner else None
        rows = [delivery_public(d, tenant_slug=slug) for d in result.deliveries]
    if as_json:
        print_json(to_jsonable(rows))
        return
    for row in rows:
        typer.echo(row["id"])


def worker(
    once: bool = typer.Option(False, "--once", help="Deliver what is due, then exit."),
) -> None:
    """Deliver queued notifications (until SIGTERM, or once); SIGHUP reads the key ring again."""
    import asyncio
    import signal

    from core.pipeline.worker import Worker
    from mailbell.serve import install_key_reload

    ctx = context()

    async def main() -> None:
        work = Worker(ctx, lease_s=ctx.settings.worker_lease_s)
        try:
            if once:
                stats = await work.run_once()
                partial = f" ({stats.partial} partial)" if stats.partial else ""
                typer.echo(
                    f"claimed {stats.claimed}: {stats.sent} sent, {stats.retried} to retry, "
                    f"{stats.failed} failed{partial}"
                )
                if stats.pruned_deliveries or stats.pruned_audit_entries:
                    typer.echo(
                        f"pruned {stats.pruned_deliveries} deliveries past retention, "
                        f"{stats.pruned_audit_entries} audit entries"
                    )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            install_key_reload(ctx, lambda line: typer.echo(line, err=True))
            await work.run(stop)
        finally:
            await work.close()

    asyncio.run(main())


@deliveries_app.command("list")
def list_(
    tenant: str | None = TENANT_OPTION,
    status: str | None = typer.Option(
        None, help="queued, sending, sent, partial, failed, suppressed or held."
    ),
    event: str | None = typer.Option(None, help="Event name."),
    before: int | None = typer.Option(
        None, "--before", help="Only deliveries older than this id (the last id of a page)."
    ),
    limit: int = typer.Option(50, "--limit", help="Newest first, at most this many (1-1000)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List deliveries, newest first, a page at a time (next page: --before LAST_ID)."""
    from core.services.deliveries import delivery_log
    from core.services.tenants import get_tenant

    with context().session() as session:
        owner = get_tenant(session=session, slug=tenant) if tenant else None
        page = delivery_log(
            session=session,
            tenant=owner,
            status=status,
            event=event,
            before_id=before,
            limit=limit,
        )
    rows = [row.as_json() for row in page]
    if as_json:
        print_json(to_jsonable(rows))
    else:
        print_table(
            rows,
            ["id", "event", "tenant", "status", "attempts", "target", "created_at", "last_error"],
        )


@deliveries_app.command("show")
def show(delivery_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One delivery with its per-recipient outcomes and every send attempt."""
    from core.services.deliveries import read_delivery

    with context().session() as session:
        data = to_jsonable(read_delivery(session=session, delivery_id=delivery_id).as_json())
    if as_json:
        print_json(data)
        return
    recipients = data.pop("recipients")
    attempts = data.pop("attempts")
    print_fields(data)
    for address, outcome in recipients.items():
        typer.echo(f"  {address}: {outcome.get('status')} {outcome.get('reply') or ''}".rstrip())
    if not attempts:
        typer.echo("history: no send attempt yet")
        return
    typer.echo("history:")
    for attempt in attempts:
        at = attempt["at"].replace("T", " ")[:19]
        worker = f"  ({attempt['worker']})" if attempt["worker"] else ""
        typer.echo(f"  {at}  {attempt['outcome']:<7}  {attempt['detail'] or ''}{worker}")


@deliveries_app.command("retry")
def retry(delivery_id: int) -> None:
    """Queue a failed delivery again (to the recipients that did not get it)."""
    from core.services.deliveries import retry_delivery

    ctx = context()
    with ctx.session() as session:
        retry_delivery(session=session, box=ctx.box, delivery_id=delivery_id, actor=actor())
    typer.echo(f"delivery {delivery_id} queued again")


@deliveries_app.command("resend")
def resend(
    delivery_id: int,
    to: str | None = typer.Option(
        None, "--to", help="Send the copy to this address instead (email deliveries only)."
    ),
) -> None:
    """Queue a new copy of a finished delivery (sent, partial, failed, suppressed or held), to
    its recipients or to --to; prints the new delivery's id."""
    from core.services.resend import resend_delivery

    ctx = context()
    with ctx.session() as session:
        copy = resend_delivery(
            session=session, box=ctx.box, delivery_id=delivery_id, actor=actor(), to=to
        )
    typer.echo(copy.id)
