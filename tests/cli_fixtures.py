from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Settings
from mailbell.cli import run


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `mailbell ARGS…` in this process against the test's own MAILBELL_HOME."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def db_dump(settings: Settings) -> Callable[[], str]:
    """Every row of every table, to prove a refused command changed nothing."""
    from tests.support.storage import dump

    return lambda: dump(settings.effective_database_url)
