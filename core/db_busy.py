"""Is a database error "busy, try again" (another writer holds a lock), not a bug?

SQLite answers SQLITE_BUSY / SQLITE_LOCKED ("database is locked") once its busy timeout has run
out while another process holds the write lock. PostgreSQL gives up on a lock or a statement
after `lock_timeout` / `statement_timeout`, and aborts a transaction that lost a serialization
race or a deadlock. All of these go away by trying again: the front ends answer them as such
(HTTP 503 with `Retry-After`), never as an internal error.

Told apart without importing a driver, as `core.errors.storage_error` does: sqlite3 exceptions
carry `sqlite_errorname`, psycopg's carry `sqlstate`. The reason returned never carries the
driver's message, which may quote SQL and its parameters.
"""

from __future__ import annotations

from core.errors import error_chain

_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")  # and their variants (SQLITE_BUSY_SNAPSHOT, …)
_PG_BUSY = {
    "55P03": "a lock was not granted within lock_timeout",
    "57014": "a statement ran past statement_timeout",
    "40001": "a concurrent transaction won a serialization race",
    "40P01": "a deadlock with a concurrent transaction",
}


def database_busy(exc: BaseException) -> str | None:
    """Why `exc` means the database is busy (a short reason, no SQL), or None if it does not."""
    for cause in error_chain(exc, implicit=True):
        name = getattr(cause, "sqlite_errorname", None)
        if isinstance(name, str):
            if name.startswith(_SQLITE_BUSY):
                return "SQLite: another process holds the database's write lock"
            continue
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate in _PG_BUSY:
            return f"PostgreSQL: {_PG_BUSY[sqlstate]}"
    return None
