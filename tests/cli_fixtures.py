from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

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
def db_dump(home: Path) -> Callable[[], str]:
    """The whole database as SQL text, to prove a refused command changed nothing."""

    def dump() -> str:
        with sqlite3.connect(home / "mailbell.db") as connection:
            return "\n".join(connection.iterdump())

    return dump
