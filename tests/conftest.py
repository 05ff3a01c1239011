"""Shared fixtures: every test gets its own data dir, database and key file.

`pytest --db=postgres` (or MAILBELL_TEST_DB=postgres) runs the suite against a throwaway
PostgreSQL server (one fresh database per test) instead of SQLite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from core.config import Settings
from core.context import Context, build_context
from core.services.audit import Actor

# Most tests emit several events of one kind in a few seconds and check each message: digests
# are off unless a test sets a policy (the digest tests set theirs, and one checks this default).
os.environ["MAILBELL_DIGEST_DEFAULT"] = "off"

# xdist_groups: the tests that run one after another when a pass is spread over processes.
pytest_plugins = [
    "tests.cli_fixtures",
    "tests.support.fixtures",
    "tests.support.factories",
    "tests.support.xdist_groups",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default=os.environ.get("MAILBELL_TEST_DB", "sqlite"),
        help="database backend for the tests (default: sqlite, or $MAILBELL_TEST_DB)",
    )
    parser.addoption(
        "--ci-pass",
        action="store_true",
        help="run this backend's share of `make test` (see PASSES): the two passes run side by "
        "side and take about as long",
    )
    parser.addoption(
        "--all-tests",
        action="store_true",
        help="with --db=postgres, also the tests that use no database (make test runs them "
        "in its SQLite pass only)",
    )


# A module that reaches a database some other way than through the fixtures (asking for one by
# name while it runs, or choosing by the backend) keeps all its tests in both passes.
_BACKEND_MARKERS = ("getfixturevalue", "getoption", "postgres", "database_url", "MAILBELL_DATABASE")


def _uses_no_database(item: pytest.Item) -> bool:
    if {"database_url", "postgres_server"} & set(getattr(item, "fixturenames", ())):
        return False
    path = getattr(item, "path", None)
    if path is None:
        return False
    return not any(marker in _module_text(str(path)) for marker in _BACKEND_MARKERS)


_module_texts: dict[str, str] = {}


def _module_text(path: str) -> str:
    if path not in _module_texts:
        _module_texts[path] = Path(path).read_text(encoding="utf-8")
    return _module_texts[path]


# `make test`'s two passes (`--ci-pass`): the TUI's tests exercise screens and the SSH console's
# its transport, not the database, so each runs in one pass only. These run in the PostgreSQL
# pass, every other TUI module in the SQLite pass; both passes then take about as long.
PG_PASS_ONLY = (
    "tests/ssh/",
    "tests/tui/test_conventions.py",
    "tests/tui/test_layout_bands.py",
    "tests/tui/test_page_snapshots.py",
    "tests/tui/test_secrets.py",
    "tests/tui/test_navigation.py",
    "tests/tui/test_rough_edges_1.py",
)


def _pass_of(item: pytest.Item) -> str | None:
    """`postgres` or `sqlite` for a test that `make test` runs in one pass only."""
    path = getattr(item, "path", None)
    where = path.as_posix() if path is not None else ""
    if any(part in where for part in PG_PASS_ONLY):
        return "postgres"
    return "sqlite" if "tests/tui/" in where else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `--ci-pass`, each backend runs its share (PG_PASS_ONLY). Besides, the PostgreSQL
    pass leaves out the tests that use no database at all (rendering, rules, MIME, SMTP
    sessions): they run the same in the SQLite pass, and running them twice only costs CI
    time. `--db=postgres --all-tests` runs them too."""
    backend = config.getoption("--db")
    ci_pass = config.getoption("--ci-pass")
    all_tests = config.getoption("--all-tests")
    kept, left = [], []
    for item in items:
        only = _pass_of(item) if ci_pass else None
        if only is not None:
            (kept if only == backend else left).append(item)
        elif backend == "postgres" and not all_tests and _uses_no_database(item):
            left.append(item)
        else:
            kept.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"mailbell test database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.support.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    server.prepare_template()
    yield server
    server.stop("immediate")
    # A data directory with a database per test is large: deleting it takes tens of seconds
    # the run need not wait for, so a process of its own does it.
    subprocess.Popen(
        ["rm", "-rf", "--", str(server.base_dir)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None on SQLite (the file in MAILBELL_HOME); a fresh, migrated database on PostgreSQL."""
    if request.config.getoption("--db") != "postgres":
        return None
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database()
    return url


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    """A fresh MAILBELL_HOME; variables that would leak in from the machine are cleared."""
    data = tmp_path / "home"
    for name in ("MAILBELL_DATABASE_URL", "MAILBELL_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAILBELL_HOME", str(data))
    # Tenant tokens in these tests point at local SMTP servers (fence tests set it back to "").
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "127.0.0.0/8,::1/128")
    if database_url is not None:
        monkeypatch.setenv("MAILBELL_DATABASE_URL", database_url)
    return data


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per test process: migrating one from scratch
    costs a test about 0.1 s of CPU, copying it a millisecond (the PostgreSQL pass copies a
    template database the same way)."""
    from core.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "mailbell.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def settings(home: Path, database_url: str | None, request: pytest.FixtureRequest) -> Settings:
    """The test's settings; on SQLite its database starts as a copy of the migrated template
    (a test of a fresh data directory or of migrations makes its own)."""
    configured = Settings(home=home, database_url=database_url)
    database = home / "mailbell.db"
    if database_url is None and not database.exists():
        from core.private_files import make_private_dir

        make_private_dir(home)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        database.chmod(0o600)
    return configured


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    context = build_context(settings)
    yield context
    context.close()


@pytest.fixture
def session(ctx: Context) -> Iterator[Session]:
    with ctx.session() as session:
        yield session


@pytest.fixture
def actor() -> Actor:
    return Actor(name="tester", source="cli")
