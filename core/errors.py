"""The errors every front end knows how to show.

A `MailbellError` is an expected outcome (bad input, missing thing, refused server):
front ends turn it into one line, a 4xx or an ephemeral Slack answer. Anything else is a bug.
Messages never contain a secret.
"""

from __future__ import annotations

import errno


class MailbellError(Exception):
    """Base of every expected, user-facing failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(MailbellError):
    """Input broke a rule. `field` names the top-level field (`recipients`, not `recipients[1]`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class NotFound(MailbellError):
    """The named tenant, server, account, template or delivery does not exist."""


class Forbidden(MailbellError):
    """The acting person's role does not allow this (a viewer saving, a tenant admin reaching
    another tenant or the system). Nothing was changed."""


class Conflict(MailbellError):
    """The thing exists already, or the change collides with existing state."""


class NotConfigured(MailbellError):
    """No mail server can send for this tenant (see the effective-server rule)."""


class SecretKeyError(MailbellError):
    """Secrets cannot be encrypted or decrypted with the configured key ring."""


class DeliveryError(MailbellError):
    """Sending failed; subclasses say whether trying again can help.

    `step` names where it failed (dns, connect, tls, ehlo, starttls, auth, mail, rcpt, data,
    oauth, render); `code` and `reply` carry the server's answer when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        code: int | None = None,
        reply: str | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.code = code
        self.reply = reply


class RetryableError(DeliveryError):
    """4xx replies, timeouts, connection errors: try again later.

    `retry_after`: seconds the other side asked us to wait (a 429's `Retry-After`); the worker
    uses it instead of its backoff when set.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        code: int | None = None,
        reply: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, step=step, code=code, reply=reply)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """5xx replies, rendering errors: trying again will not help."""


class AuthorizationRevoked(PermanentError):
    """The OAuth provider refused the server's grant (invalid_grant, unauthorized_client, consent
    revoked): no delivery can go through it until an admin authorizes it again."""


class CredentialsPaused(RetryableError):
    """The server refused these credentials too often lately: they are not tried again before
    `retry_after` seconds, or before they are changed."""


class StorageError(MailbellError):
    """The database cannot take a write (full disk, read-only): nothing was recorded."""


class StorageFullError(StorageError):
    """No space left for the database (a full filesystem, or PostgreSQL's disk full)."""


class StorageReadOnlyError(StorageError):
    """The database is read-only (a read-only filesystem or file, a standby, a read-only
    transaction default)."""


# Driver errors, told apart without importing a driver (this module stays import-light):
# sqlite3 exceptions carry `sqlite_errorname`, psycopg's carry `sqlstate`.
_SQLITE_FULL = ("SQLITE_FULL",)
_SQLITE_READONLY = ("SQLITE_READONLY",)  # and its variants: SQLITE_READONLY_DBMOVED, …
_SQLITE_MAYBE = ("SQLITE_CANTOPEN", "SQLITE_IOERR")  # decided by looking at the filesystem
_PG_DISK_FULL = "53100"
_PG_READ_ONLY = "25006"  # read_only_sql_transaction: a standby, default_transaction_read_only
_ERRNO_FULL = {errno.ENOSPC, errno.EDQUOT}
_ERRNO_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def error_chain(exc: BaseException, *, implicit: bool = False) -> list[BaseException]:
    """`exc`, the driver error SQLAlchemy wraps (`orig`), and their explicit causes (and, with
    `implicit`, the errors they were raised while handling): at most ten."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "orig", None), item.__cause__]
        if implicit:
            todo.append(item.__context__)
    return seen


def _filesystem_state(path: str | None) -> tuple[str, str] | None:
    """("full" | "read-only", why) when the SQLite file's filesystem says so, else None."""
    import os

    if not path or path == ":memory:":
        return None
    directory = os.path.dirname(os.path.abspath(path))
    try:
        stat = os.statvfs(directory)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return "read-only", "read-only file system"
    exists = os.path.exists(path)
    if not os.access(directory, os.W_OK) or (exists and not os.access(path, os.W_OK)):
        return "read-only", "no write permission on the file or its directory"
    if stat.f_bavail == 0:
        return "full", "no space left on device"
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _classify(cause: BaseException, path: str | None, os_errors: bool) -> tuple[str, str] | None:
    name = getattr(cause, "sqlite_errorname", None)
    if isinstance(name, str):
        state = _filesystem_state(path)
        if name.startswith(_SQLITE_FULL):
            return state if state and state[0] == "full" else ("full", f"SQLite: {cause}")
        if name.startswith(_SQLITE_READONLY):
            return state if state and state[0] == "read-only" else ("read-only", f"SQLite: {cause}")
        if name.startswith(_SQLITE_MAYBE):  # cannot open / write: the filesystem tells why
            return state
        return None
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate == _PG_DISK_FULL:
        return "full", f"PostgreSQL: {_first_line(cause)}"
    if sqlstate == _PG_READ_ONLY:
        return "read-only", f"PostgreSQL: {_first_line(cause)}"
    if os_errors and isinstance(cause, OSError):
        if cause.errno in _ERRNO_FULL:
            return "full", "no space left on device"
        if cause.errno in _ERRNO_READ_ONLY:
            return (
                "read-only",
                "read-only file system" if cause.errno == 30 else "permission denied",
            )
    return None


def storage_error(
    exc: BaseException, *, database: str, path: str | None = None, os_errors: bool = False
) -> StorageError | None:
    """The `StorageError` a database driver error means, or None for any other error.

    `database` names the database in the message (a file path, or a URL without password);
    `path` is the SQLite file, whose filesystem is looked at when SQLite only says it cannot
    open or write the file. With `os_errors`, a bare `OSError` (ENOSPC, EROFS, EACCES) counts
    too: only where the failing file is the database's own (its migration lock).
    The one place where "disk full" and "read-only" are recognised: `core.context` raises
    what this returns from its sessions and its schema check.
    """
    for cause in error_chain(exc):
        found = _classify(cause, path, os_errors)
        if found is None:
            continue
        kind, reason = found
        if kind == "full":
            return StorageFullError(
                f"database is full: {reason} ({database}); nothing was recorded"
            )
        return StorageReadOnlyError(
            f"database is read-only: {reason} ({database}); nothing was recorded"
        )
    return None
