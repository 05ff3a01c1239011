"""Read what the database really stores, to prove secrets never sit there in plain text."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, select

from core.context import Context


def stored_bytes(ctx: Context, home: Path) -> bytes:
    """SQLite: the raw database files. PostgreSQL: every row of every table as text."""
    if ctx.engine.dialect.name == "sqlite":
        ctx.engine.dispose()
        files = sorted(home.glob("mailbell.db*"))
        assert files, "no SQLite file found"
        return b"".join(path.read_bytes() for path in files)
    metadata = MetaData()
    metadata.reflect(ctx.engine)
    chunks = []
    with ctx.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                chunks.append(repr(tuple(row)).encode())
    return b"\n".join(chunks)


def dump(ctx_engine_url: str) -> str:
    """Every row of every table, in a stable order: equal dumps mean nothing changed."""
    from core.db import make_engine

    engine = make_engine(ctx_engine_url)
    metadata = MetaData()
    metadata.reflect(engine)
    lines = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            for row in connection.execute(select(table).order_by(*order)):
                lines.append(f"{table.name}: {tuple(row)!r}")
    engine.dispose()
    return "\n".join(lines)
