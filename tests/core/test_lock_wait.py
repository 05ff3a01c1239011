"""A request waits a bounded time for a lock on either database, then fails as busy (503)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.context import Context
from core.db import SQLITE_BUSY_TIMEOUT_MS


def _lock_wait_ms(ctx: Context) -> int:
    with ctx.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            return int(connection.execute(text("PRAGMA busy_timeout")).scalar_one())
        value = str(connection.execute(text("SHOW lock_timeout")).scalar_one())
        assert value.endswith("s") and not value.endswith("ms"), value
        return int(value.removesuffix("s")) * 1000


def test_every_connection_waits_a_bounded_time_for_locks(ctx: Context) -> None:
    assert _lock_wait_ms(ctx) == SQLITE_BUSY_TIMEOUT_MS


def test_pgoptions_lock_timeout_wins(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    if ctx.engine.dialect.name != "postgresql":
        assert _lock_wait_ms(ctx) == SQLITE_BUSY_TIMEOUT_MS  # SQLite ignores PGOPTIONS
        return
    from core.db import make_engine

    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=2000")
    engine = make_engine(ctx.engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "2s"
    finally:
        engine.dispose()
