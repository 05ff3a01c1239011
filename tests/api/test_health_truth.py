"""`/healthz` tells the truth: a database that refuses writes (full, read-only) is a 503 naming
why, found by the background write probe, while the check itself stays fast; back to 200 once
the storage takes writes again. See tests/support/broken_storage.py for the simulations.

PostgreSQL is checked read-only only: its full-disk simulation fills a tablespace holding the
`delivery` table alone, which the probe's write (one row every database has) never reaches.
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from core.context import Context
from tests.api.conftest import Answer, ApiClient
from tests.support.broken_storage import BrokenStorage, ctx, settings, storage  # noqa: F401

PROBE_DEADLINE_S = 8.0  # the probe runs every 2 s; a few rounds of slack on a busy machine
FAST_S = 0.050


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "trouble" in metafunc.fixturenames:
        postgres = metafunc.config.getoption("--db") == "postgres"
        metafunc.parametrize("trouble", ["read-only"] if postgres else ["full", "read-only"])


async def _until(api: ApiClient, status: int) -> Answer:
    deadline = time.monotonic() + PROBE_DEADLINE_S
    while True:
        answer = await api.get("/healthz", token=None)
        if answer.status == status or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def _p99(api: ApiClient, samples: int = 200) -> float:
    """The 99th percentile of `samples` health checks' times, after a warm-up."""
    for _ in range(5):
        await api.get("/healthz", token=None)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await api.get("/healthz", token=None)
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return sorted(times)[math.ceil(0.99 * samples) - 1]


async def test_healthz_is_503_naming_the_refusal_while_writes_fail(
    trouble: str,
    ctx: Context,  # noqa: F811
    api: ApiClient,
    storage: BrokenStorage,  # noqa: F811
) -> None:
    assert (await _until(api, 200)).body["database"] == "ok"
    ctx.box.encrypt_bytes(b"")  # the key file exists before the disk is full
    storage.fill() if trouble == "full" else storage.read_only()

    answer = await _until(api, 503)

    assert answer.status == 503, answer.body
    assert answer.body["status"] == "unavailable"
    assert answer.body["database"] == trouble
    assert answer.body["error"] == f"the database refuses writes: it is {trouble}"
    assert "Traceback" not in answer.text and "mailbell.db" not in answer.text
    p99 = await _p99(api)
    assert p99 < FAST_S, f"/healthz p99 {p99 * 1000:.1f} ms while {trouble}"

    storage.free() if trouble == "full" else storage.writable()
    back = await _until(api, 200)
    assert back.status == 200, back.body
    assert back.body["database"] == "ok"
