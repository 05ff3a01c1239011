"""A throwaway PostgreSQL server for tests: its own data dir, port and socket, stopped after.

Uses Debian's `postgresql` package (.ci/run installs it). initdb refuses to run as root, so as
root the server runs as the `postgres` user. Durability is switched off: these are tests.

    server = PostgresServer(tmp_dir); server.start()
    url = server.create_database()          # a fresh database, migrated (from a template)
    server.restart(); server.stop()
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
TEMPLATE = "mailbell_template"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin(name: str) -> str:
    for directory in BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: `apt-get install postgresql` (.ci/run does)"
        )
    return found


class PostgresServer:
    def __init__(self, base_dir: Path | None = None) -> None:
        # Its own directory under /tmp: pytest's tmp dirs are 0700 root, closed to `postgres`.
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="mailbell-pg-"))
        os.chmod(self.base_dir, 0o755)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.port = _free_port()
        self._counter = itertools.count(1)
        self._as_postgres = os.geteuid() == 0
        self._copy = ""

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {result.stderr or result.stdout}")

    def start(self) -> None:
        if not self.data_dir.exists():
            self.base_dir.mkdir(parents=True, exist_ok=True)
            self.socket_dir.mkdir(exist_ok=True)
            if self._as_postgres:
                shutil.chown(self.base_dir, "postgres", "postgres")
                shutil.chown(self.socket_dir, "postgres", "postgres")
                os.chmod(self.base_dir, 0o755)
            self._run(
                postgres_bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "mailbell",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            postgres_bin("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-w",
            "-l",
            str(self.base_dir / "server.log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(postgres_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://mailbell@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> int:
        """Runs `sql`; answers the server's version number (150004 for 15.4)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="mailbell", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(sql)  # type: ignore[arg-type]
            return connection.info.server_version

    def prepare_template(self) -> None:
        """A database migrated to head, copied for each test (much faster than migrating)."""
        from core.db import make_engine, upgrade

        version = self._admin(f"CREATE DATABASE {TEMPLATE}")
        # PostgreSQL 15 copies a template page by page through the WAL by default; copying its
        # files takes about half the time per test here (fsync is off, the checkpoint is cheap).
        self._copy = " STRATEGY FILE_COPY" if version >= 150000 else ""
        engine = make_engine(self.url(TEMPLATE))
        upgrade(engine)
        engine.dispose()

    def create_database(self, *, migrated: bool = True) -> str:
        name = f"test_{os.getpid()}_{next(self._counter)}"
        template = f" TEMPLATE {TEMPLATE}{self._copy}" if migrated else ""
        self._admin(f"CREATE DATABASE {name}{template}")
        return self.url(name)
