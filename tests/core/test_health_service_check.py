"""The service check: `service:database` (a committed write that changes nothing) and
`service:keys` (the key ring opens the canary it made on the first check), on a database made
full or read-only (tests/support/broken_storage.py) and with key rings that no longer open it;
`mailbell serve` runs the health watch, stops it, and keeps serving when it fails."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from core.config import Settings
from core.context import Context, build_context
from core.health.checks import service
from core.health.runner import CheckScope, HealthWatch
from core.health.store import CheckResult
from core.models.health import HealthSubject, ServiceLease
from core.models.tenancy import SystemSettings
from core.services.audit import Actor
from core.services.keys import rotate_keys
from core.vocabulary import HealthKind, HealthState
from mailbell.serve import serve
from tests.support.broken_storage import BrokenStorage, ctx, settings, storage  # noqa: F401


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "trouble" in metafunc.fixturenames:
        postgres = metafunc.config.getoption("--db") == "postgres"
        # PostgreSQL's full-disk simulation fills the `delivery` table's tablespace only.
        metafunc.parametrize("trouble", ["read-only"] if postgres else ["full", "read-only"])


async def _check(context: Context, scope: CheckScope | None = None) -> dict[str, CheckResult]:
    return {r.key: r for r in await service.check(context, scope or CheckScope())}


def _canary(context: Context) -> str | None:
    with context.session() as session:
        row = session.get(SystemSettings, 1)
        return row.key_canary_enc if row is not None else None


async def test_a_healthy_service_is_ok_and_the_canary_is_made_once(
    ctx: Context,  # noqa: F811
) -> None:
    assert _canary(ctx) is None

    first = await _check(ctx)
    canary = _canary(ctx)
    second = await _check(ctx, CheckScope(system=True))

    assert first == second
    database, keys = first["service:database"], first["service:keys"]
    assert (database.kind, database.tenant_id, database.subject) == (
        HealthKind.SERVICE,
        None,
        "database",
    )
    assert (database.state, database.reason) == (HealthState.OK, "the database takes writes")
    assert (keys.subject, keys.state) == ("key ring", HealthState.OK)
    assert keys.reason == f"the 1 key(s) in the key file {ctx.box.source.key_file} open the canary"
    assert canary is not None and _canary(ctx) == canary
    assert ctx.box.decrypt(canary) == service.CANARY


async def test_a_tenant_pass_checks_no_service_subject(ctx: Context) -> None:  # noqa: F811
    assert await service.check(ctx, CheckScope(tenant_id=1)) == []
    assert _canary(ctx) is None


async def test_keys_rotated_by_another_process_still_open_the_canary(
    ctx: Context,  # noqa: F811
    settings: Settings,  # noqa: F811
    actor: Actor,
) -> None:
    await _check(ctx)
    other = build_context(settings)  # `mailbell keys rotate` from the command line
    with other.session() as session:
        rotate_keys(session=session, box=other.box, actor=actor)
    other.close()
    new_key = ctx.box.source.key_file.read_text().split()[0]

    keys = (await _check(ctx))["service:keys"]

    assert keys.state == HealthState.OK, keys.reason
    assert "the 2 key(s)" in keys.reason
    canary = _canary(ctx)
    assert canary is not None and Fernet(new_key).decrypt(canary.encode()) == b"mailbell key canary"


async def test_a_key_file_that_lost_the_key_is_critical_naming_what_to_restore(
    ctx: Context,  # noqa: F811
    settings: Settings,  # noqa: F811
    actor: Actor,
) -> None:
    await _check(ctx)
    other = build_context(settings)
    with other.session() as session:
        rotate_keys(session=session, box=other.box, actor=actor)
    other.close()
    rotated_at = datetime.now(UTC)
    key_file = ctx.box.source.key_file
    key_file.write_text(Fernet.generate_key().decode() + "\n")  # a wrong backup restored

    keys = (await _check(ctx))["service:keys"]

    assert keys.state == HealthState.CRITICAL
    prefix = (
        f"the key canary does not open with the 1 key(s) in the key file {key_file}: restore "
        f"the key that was first in the key file {key_file} on "
    )
    assert keys.reason.startswith(prefix), keys.reason
    when = datetime.strptime(keys.reason[len(prefix) :][:16], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert rotated_at - timedelta(minutes=2) < when <= rotated_at  # the rotation's minute
    assert keys.reason.endswith(f"UTC (add it back to the key file {key_file})")
    assert keys.detail == {"action": "restore the key, then check again"}
    assert (await _check(ctx))["service:database"].state == HealthState.OK


async def test_environment_keys_without_the_canary_key_say_to_restart(
    ctx: Context,  # noqa: F811
    home: Path,
    database_url: str | None,
) -> None:
    await _check(ctx)
    made = datetime.now(UTC)
    other = build_context(
        Settings(home=home, database_url=database_url, secret_keys=Fernet.generate_key().decode())
    )
    try:
        keys = (await _check(other))["service:keys"]
    finally:
        other.close()

    assert keys.state == HealthState.CRITICAL
    assert keys.reason.startswith(
        "the key canary does not open with the 1 key(s) in MAILBELL_SECRET_KEYS: restore the key "
        f"that was first in MAILBELL_SECRET_KEYS on {made:%Y-%m-%d}"
    )
    assert keys.reason.endswith(
        "(add it back to MAILBELL_SECRET_KEYS); a running process reads MAILBELL_SECRET_KEYS "
        "only when it starts: restart it after"
    )


async def test_a_malformed_key_file_is_critical_naming_the_file(
    ctx: Context,  # noqa: F811
) -> None:
    await _check(ctx)
    key_file = ctx.box.source.key_file
    key_file.write_text("pasted-badly\n")

    keys = (await _check(ctx))["service:keys"]

    assert keys.state == HealthState.CRITICAL
    assert keys.reason == (
        f"key 1 in the key file {key_file} is not a Fernet key "
        "(32 url-safe base64-encoded bytes, as `mailbell keys rotate` writes)"
    )
    assert "pasted-badly" not in keys.reason


async def test_a_database_refusing_writes_is_critical_then_ok_again(
    trouble: str,
    ctx: Context,  # noqa: F811
    storage: BrokenStorage,  # noqa: F811
) -> None:
    await _check(ctx)  # the key file and the canary exist before the trouble
    storage.fill() if trouble == "full" else storage.read_only()

    found = await _check(ctx)

    database = found["service:database"]
    assert database.state == HealthState.CRITICAL
    assert database.reason.startswith(f"the database refuses writes: database is {trouble}: ")
    assert "nothing was recorded" not in database.reason and "Traceback" not in database.reason
    assert found["service:keys"].state in (HealthState.OK, HealthState.UNKNOWN)

    storage.free() if trouble == "full" else storage.writable()
    again = await _check(ctx)
    assert again["service:database"].state == HealthState.OK
    assert again["service:keys"].state == HealthState.OK


async def _until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)


def _subjects(context: Context) -> set[str]:
    with context.session() as session:
        return set(session.exec(select(HealthSubject.key)).all())


async def test_serve_runs_the_health_watch_and_stops_it(ctx: Context) -> None:  # noqa: F811
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ctx, port=0, stop=stop))
    try:
        await _until(
            lambda: {"service:database", "service:keys"} <= _subjects(ctx), "service subjects"
        )
    finally:
        stop.set()
        assert await task == 0
    with ctx.session() as session:
        lease = session.get(ServiceLease, "health")
        assert lease is not None and lease.owner is None  # given back on the way out


async def test_a_failing_health_watch_does_not_stop_serve(
    ctx: Context,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: HealthWatch, stop: asyncio.Event) -> None:
        raise RuntimeError("cannot record")

    monkeypatch.setattr(HealthWatch, "run", broken)
    caplog.set_level(logging.INFO, logger="mailbell.serve")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(ctx, port=0, stop=stop))
    failed = "health watch failed, starting again in 30 s: RuntimeError: cannot record"
    try:
        await _until(lambda: failed in caplog.messages, "the failure logged")
        assert not task.done()
    finally:
        stop.set()
        assert await task == 0  # 1 had a component stopped the process
    assert caplog.messages.count(failed) == 1
