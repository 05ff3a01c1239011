"""Alembic environment: runs against the engine mailbell hands over (core.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import core.models  # noqa: F401  (fills SQLModel.metadata)
from core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(
        config.get_main_option("sqlalchemy.url") or ""
    )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        # Transactions alembic begins itself (one per migration on SQLite, one in all on
        # PostgreSQL), so that a migration can leave them for an autocommit block (0009).
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Processes starting together: one migrates, the others wait, then find nothing.
                # Waiting for another process's migration is no error: no lock timeout here.
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7342015)")
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("mailbell migrations run online only: use `mailbell db upgrade`")
run_migrations_online()
