"""A full or read-only database: `emit` (core and CLI) fails with one clear error, nothing is
half-written, and the same emit goes through once space or write access is back.

On SQLite (the CI runs as root) the data directory is a small tmpfs filled to the last byte or
remounted read-only; on PostgreSQL the delivery table sits in a tablespace on a full tmpfs (the
event row fits, its delivery does not) or the database defaults to read-only transactions.
See tests/support/broken_storage.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from core.catalog import sample
from core.context import Context
from core.errors import StorageFullError, StorageReadOnlyError
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import Tenant
from tests.support.broken_storage import BrokenStorage, ctx, settings, storage  # noqa: F401
from tests.support.factories import emit_event, make_configured_tenant

SERVER = {"name": "default", "host": "smtp.acme.org", "mail_from": "pbx@acme.org"}


def _tenant(ctx: Context) -> Tenant:  # noqa: F811
    with ctx.session() as session:
        tenant = make_configured_tenant(session, ctx.box, server=SERVER)
    ctx.box.encrypt_bytes(b"")  # the key file exists before the disk is full
    return tenant


def _emit(ctx: Context, tenant: Tenant) -> Any:  # noqa: F811
    with ctx.session() as session:
        return emit_event(session, ctx.box, tenant)


def _counts(ctx: Context) -> tuple[int, int]:  # noqa: F811
    with ctx.session() as session:
        events = session.exec(select(func.count()).select_from(EventRecord)).one()
        deliveries = session.exec(select(func.count()).select_from(Delivery)).one()
    return events, deliveries


def _where(ctx: Context) -> str:  # noqa: F811
    """How the error names the database: the SQLite file, or the URL's database name."""
    url = ctx.engine.url
    return str(url.database) if url.get_backend_name() == "sqlite" else f"/{url.database}"


def test_emit_into_a_full_database_records_nothing(
    ctx: Context,  # noqa: F811
    storage: BrokenStorage,  # noqa: F811
    db_dump: Callable[[], str],
) -> None:
    tenant = _tenant(ctx)
    before = db_dump()
    storage.fill()

    with pytest.raises(StorageFullError) as caught:
        _emit(ctx, tenant)
    message = str(caught.value)
    assert message.startswith("database is full: ")
    assert _where(ctx) in message and message.endswith("; nothing was recorded")
    if storage.how == "sqlite-tmpfs":
        assert "no space left on device" in message
    assert db_dump() == before  # neither the event nor its delivery

    storage.free()
    result = _emit(ctx, tenant)
    assert [d.status for d in result.deliveries] == ["queued"]
    assert _counts(ctx) == (1, 1)


def test_emit_into_a_read_only_database_records_nothing(
    ctx: Context,  # noqa: F811
    storage: BrokenStorage,  # noqa: F811
    db_dump: Callable[[], str],
) -> None:
    tenant = _tenant(ctx)
    before = db_dump()
    storage.read_only()

    with pytest.raises(StorageReadOnlyError) as caught:
        _emit(ctx, tenant)
    message = str(caught.value)
    assert message.startswith("database is read-only: ")
    assert _where(ctx) in message and message.endswith("; nothing was recorded")

    storage.writable()
    assert db_dump() == before
    _emit(ctx, tenant)
    assert _counts(ctx) == (1, 1)


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_cli_emit_says_so_in_one_line(
    trouble: str,
    ctx: Context,  # noqa: F811
    storage: BrokenStorage,  # noqa: F811
    cli: Callable[..., Any],
    db_dump: Callable[[], str],
) -> None:
    _tenant(ctx)
    before = db_dump()
    storage.fill() if trouble == "full" else storage.read_only()

    data = json.dumps(sample("QUEUE_CALL_LOST"))
    result = cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", data)

    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"error: database is {trouble}: ")
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    storage.free() if trouble == "full" else storage.writable()
    assert db_dump() == before
    assert cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", data).code == 0
    assert _counts(ctx) == (1, 1)
