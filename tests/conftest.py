"""Shared fixtures: every test gets its own data dir, SQLite database and key file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from core.config import Settings
from core.context import Context, build_context
from core.services.audit import Actor


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MAILBELL_HOME; variables that would leak in from the machine are cleared."""
    data = tmp_path / "home"
    for name in ("MAILBELL_DATABASE_URL", "MAILBELL_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAILBELL_HOME", str(data))
    return data


@pytest.fixture
def ctx(home: Path) -> Iterator[Context]:
    context = build_context(Settings(home=home))
    yield context
    context.close()


@pytest.fixture
def session(ctx: Context) -> Iterator[Session]:
    with ctx.session() as session:
        yield session


@pytest.fixture
def actor() -> Actor:
    return Actor(name="tester", source="cli")


pytest_plugins = ["tests.cli_fixtures"]
