"""A database that can be made full or read-only in the middle of a test, on either backend.

Load the fixtures in a test module:

    from tests.support.broken_storage import ctx, settings, storage  # noqa: F401

`storage` is a `BrokenStorage`: `fill()` / `free()`, `read_only()` / `writable()`. The module's
`settings` fixture depends on it, so the storage is ready before the test's context exists and
is taken down after the context is closed; `ctx` hands the context's engine to the storage,
which closes its connections when a change needs it.

- SQLite, as root (CI): MAILBELL_HOME is a 4 MiB tmpfs mounted by the test. `fill()` truncates
  the WAL (any write must then grow it) and fills the filesystem with a file; `read_only()`
  remounts it read-only (after closing the context's connections, which hold files open).
- SQLite, not root: no mount; `fill()` caps the database at its current size with
  `PRAGMA max_page_count`, `read_only()` takes the write permission away.
- PostgreSQL (root only, to mount): `fill()` moves the (empty) `delivery` table into a tablespace
  on a small tmpfs and fills that, so an emit's event row still fits and its delivery does not;
  `read_only()` sets `default_transaction_read_only` on the database (what a standby answers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from core.config import Settings
from core.context import Context

TMPFS_SIZE = "4m"
IS_ROOT = os.geteuid() == 0


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip() or result.returncode}")


def fill_filesystem(directory: Path) -> Path:
    """Write a file into `directory` until its filesystem has not one byte left."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError:  # ENOSPC (or EDQUOT): try smaller pieces
                    break
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0
    return filler


class BrokenStorage:
    """Base: what every backend offers. `engines` are closed before a change that needs their
    connections gone (the test's context; the CLI builds and closes its own)."""

    how = "?"

    def __init__(self) -> None:
        self.engines: list[Any] = []

    def attach(self, engine: Any) -> None:
        self.engines.append(engine)

    def _close_connections(self) -> None:
        for engine in self.engines:
            engine.dispose()

    def fill(self) -> None:
        raise NotImplementedError

    def free(self) -> None:
        raise NotImplementedError

    def read_only(self) -> None:
        raise NotImplementedError

    def writable(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteTmpfs(BrokenStorage):
    how = "sqlite-tmpfs"

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        _run("mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(home))
        self.filler: Path | None = None

    def fill(self) -> None:
        # Empty the WAL: every write must now append to it, and there is no room to.
        for engine in self.engines:
            with engine.connect() as connection:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
                assert busy == 0, "a connection kept the WAL from being truncated"
        self.filler = fill_filesystem(self.home)

    def free(self) -> None:
        if self.filler is not None:
            self.filler.unlink()
            self.filler = None

    def read_only(self) -> None:
        self._close_connections()  # a remount refuses while files are open for writing
        _run("mount", "-o", "remount,ro", str(self.home))

    def writable(self) -> None:
        _run("mount", "-o", "remount,rw", str(self.home))

    def close(self) -> None:
        self._close_connections()
        try:
            _run("umount", str(self.home))
        except RuntimeError:  # something still holds a file: detach now, freed when closed
            _run("umount", "-l", str(self.home))


class SqliteLimits(BrokenStorage):
    """Without root: a page cap stands in for the full disk, permissions for read-only."""

    how = "sqlite-pragma"

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home
        self.cap: int | None = None
        self._configure: Any = None

    def _cap(self, dbapi_connection: Any, _record: Any) -> None:
        if self.cap is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count={self.cap}")

    def attach(self, engine: Any) -> None:
        super().attach(engine)
        event.listen(engine, "connect", self._cap)

    def fill(self) -> None:
        import sqlite3

        import core.db

        with contextlib.closing(sqlite3.connect(self.home / "mailbell.db")) as connection:
            self.cap = int(connection.execute("PRAGMA page_count").fetchone()[0])
        original = self._configure = core.db._configure_sqlite

        def configure(dbapi_connection: Any, record: Any) -> None:  # engines built later (CLI)
            original(dbapi_connection, record)
            self._cap(dbapi_connection, record)

        core.db._configure_sqlite = configure  # type: ignore[assignment]
        self._close_connections()

    def free(self) -> None:
        import core.db

        self.cap = None
        if self._configure is not None:
            core.db._configure_sqlite = self._configure  # type: ignore[assignment]
            self._configure = None
        self._close_connections()

    def close(self) -> None:
        self.free()
        self.writable()

    def read_only(self) -> None:
        self._close_connections()
        for path in self.home.glob("mailbell.db*"):
            path.chmod(0o444)
        self.home.chmod(0o555)

    def writable(self) -> None:
        self.home.chmod(0o755)
        for path in self.home.glob("mailbell.db*"):
            path.chmod(0o644)


class PostgresTablespace(BrokenStorage):
    how = "postgres"

    def __init__(self, server: Any, url: str) -> None:
        super().__init__()
        self.server = server
        self.url = url
        self.database = url.rsplit("/", 1)[1]
        self.space = f"small_{self.database}"
        self.directory: Path | None = None
        self.filler: Path | None = None

    def _sql(self, sql: str, *, database: str | None = None) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.server.port,
            user="mailbell",
            dbname=database or "postgres",
            autocommit=True,
        ) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def fill(self) -> None:
        if not IS_ROOT:
            pytest.skip("a full PostgreSQL tablespace needs a tmpfs: run as root (CI does)")
        self._close_connections()
        # Under /tmp, open to the `postgres` user the server runs as.
        self.directory = Path(tempfile.mkdtemp(prefix="mailbell-space-"))
        _run("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(self.directory))
        shutil.chown(self.directory, "postgres", "postgres")
        self._sql(f"CREATE TABLESPACE {self.space} LOCATION '{self.directory}'")
        self._sql(f"ALTER TABLE delivery SET TABLESPACE {self.space}", database=self.database)
        self.filler = fill_filesystem(self.directory)

    def free(self) -> None:
        if self.filler is not None:
            self.filler.unlink()
            self.filler = None

    def read_only(self) -> None:
        self._sql(f"ALTER DATABASE {self.database} SET default_transaction_read_only = on")
        self._close_connections()  # the setting holds for new sessions

    def writable(self) -> None:
        self._sql(f"ALTER DATABASE {self.database} RESET default_transaction_read_only")
        self._close_connections()

    def close(self) -> None:
        self._close_connections()
        if self.directory is None:
            return
        self.free()
        self._sql(f"ALTER DATABASE {self.database} RESET default_transaction_read_only")
        self._sql("ALTER TABLE delivery SET TABLESPACE pg_default", database=self.database)
        self._sql(f"DROP TABLESPACE {self.space}")
        _run("umount", str(self.directory))
        self.directory.rmdir()


@pytest.fixture
def storage(
    request: pytest.FixtureRequest,
    home: Path,
    database_url: str | None,
) -> Iterator[BrokenStorage]:
    broken: BrokenStorage
    if database_url is not None:
        broken = PostgresTablespace(request.getfixturevalue("postgres_server"), database_url)
    elif IS_ROOT:  # CI: a real full filesystem
        broken = SqliteTmpfs(home)
    else:
        broken = SqliteLimits(home)
    try:
        yield broken
    finally:
        broken.close()


@pytest.fixture
def settings(storage: BrokenStorage, settings: Settings) -> Settings:
    """The conftest's settings, once the storage under MAILBELL_HOME is in place."""
    return settings


@pytest.fixture
def ctx(storage: BrokenStorage, ctx: Context) -> Context:
    """The conftest's context, its connections closed by the storage when it must."""
    storage.attach(ctx.engine)
    return ctx
