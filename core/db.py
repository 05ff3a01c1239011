"""Engines, sessions and schema upgrades. Nothing is built at import time."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from core.errors import MailbellError
from core.private_files import create_private_file, make_private_dir

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    from core.generation import install_generation_hook

    install_generation_hook()
    parsed = make_url(url)
    # Parameters are secrets' ciphertexts, addresses and messages: never in an error or a log.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            path = Path(database).expanduser()
            make_private_dir(path.parent)
            create_private_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    # A request waits for a row lock as long as SQLite waits for its file lock (busy_timeout),
    # then fails as "database busy" (503 + Retry-After) instead of hanging for ever.
    connect_args = dict(kwargs.pop("connect_args", {}))
    options = connect_args.get("options", "")
    if "lock_timeout" not in options and "lock_timeout" not in os.environ.get("PGOPTIONS", ""):
        connect_args["options"] = f"{options} -c lock_timeout={SQLITE_BUSY_TIMEOUT_MS}".strip()
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that rolls back whatever the block did not commit."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser interpolates '%': a percent-encoded URL (password, options) must be escaped.
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Processes starting together migrate one at a time.

    PostgreSQL takes an advisory lock inside the migration transaction (see migrations/env.py);
    a SQLite file gets an exclusive lock on a file beside it.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(f"{database}.migrate-lock")
    create_private_file(lock_path)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`. Safe to call on every start, from several processes."""
    from alembic import command

    try:
        with _migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise MailbellError(
            f"database {engine.url.render_as_string(hide_password=True)} cannot be upgraded: "
            f"{exc.orig}"
        ) from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
