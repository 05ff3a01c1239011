"""Fault-injection tests: real PostgreSQL, real SMTP servers, worker processes.

They run once, in the PostgreSQL pass (`pytest --db=postgres`, part of `make test`); the SQLite
pass leaves them out (deselected, not skipped). The full-disk test is SQLite's own and runs in
the SQLite pass.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    backend = config.getoption("--db")
    keep, drop = [], []
    for item in items:
        wants = "sqlite" if item.get_closest_marker("sqlite_only") else "postgres"
        in_here = "tests/reliability/" in item.nodeid
        (drop if in_here and wants != backend else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a reliability test of the SQLite backend")
