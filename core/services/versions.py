"""Versions of mail servers and email accounts, for optimistic concurrency (issue #19 item 4).

A version is a digest of what an admin sets on the row: its Read model without the fields the
service itself moves (a test's outcome, a sync's counters, a token refresh's marks), plus a digest
of each stored secret's ciphertext (a secret is re-encrypted only when it changes), so a new
password changes the version while no secret, nor its digest, is ever shown. A digest needs no
migration, and a sync or a test between an admin's read and write is not a conflict.

Every front end hands the version(s) it read to the update or delete service, which compares
them with the row's, locked, in the transaction that writes (`refuse_stale`): an editor reads
`server_version(row)` when it opens a form; the HTTP API gives the tags of `If-Match` (its
`ETag` is the version, quoted: api/etag.py) and answers StaleVersion with 412.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel

from core.errors import Conflict
from core.models.mail import (
    MAIL_SERVER_SECRETS,
    EmailAccount,
    EmailAccountRead,
    MailServer,
    MailServerRead,
)

# Read fields the service moves on its own: not an admin's change.
SERVER_STATUS = frozenset(
    {
        "last_test_at",
        "last_test_ok",
        "last_test_message",
        "authorization",
        "oauth_authorized",
        "auth_revoked_at",
        "auth_revoked_reason",
        "credentials_paused_until",
    }
)
SERVER_SECRETS = tuple(MAIL_SERVER_SECRETS.values())
ACCOUNT_STATUS = frozenset(
    {
        "last_sync_at",
        "message_count",
        "last_error",
        "sync_state",
        "sync_failures",
        "sync_stopped_reason",
        "next_sync_at",
    }
)
ACCOUNT_SECRETS = ("imap_password_enc",)

# What a writer expects the row's version to be: None, no check (last write wins); one version;
# or several (an HTTP If-Match may list more than one), any of which will do.
ExpectedVersion = str | Collection[str] | None


def _digest(read: BaseModel, status: frozenset[str], row: Any, secrets: tuple[str, ...]) -> str:
    settings = read.model_dump(mode="json", exclude=set(status))
    for name in secrets:
        stored = getattr(row, name)
        settings[name] = None if stored is None else hashlib.sha256(stored.encode()).hexdigest()
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def server_version(row: MailServer) -> str:
    """The version of a mail server row (32 hex digits)."""
    return _digest(MailServerRead.of(row), SERVER_STATUS, row, SERVER_SECRETS)


def account_version(row: EmailAccount) -> str:
    """The version of an email account row (32 hex digits)."""
    return _digest(EmailAccountRead.of(row), ACCOUNT_STATUS, row, ACCOUNT_SECRETS)


class StaleVersion(Conflict):
    """An editor's version is not the row's any more: someone else changed it since.
    `current` is the row's version now (the API's ETag of its 412)."""

    def __init__(self, message: str, current: str) -> None:
        super().__init__(message)
        self.current = current


def refuse_stale(session: Any, row: Any, expected: ExpectedVersion, what: str, target: str) -> None:
    """StaleVersion unless the row's version now is `expected` (or one of them; None: no check).
    Called on the row the write just read, before it changes anything: the row is read again,
    locked where the database can (PostgreSQL), so no other writer moves it between this check
    and the commit."""
    from sqlalchemy import String, and_, cast, or_
    from sqlmodel import col, select

    from core.models.audit import AuditEntry

    if expected is None:
        return
    session.refresh(row, with_for_update=True)
    current = server_version(row) if isinstance(row, MailServer) else account_version(row)
    accepted = {expected} if isinstance(expected, str) else expected
    if current in accepted:
        return
    # Who changed it, when the audit log tells: the latest entry of an admin's change to it, or
    # one naming it as the default it took over from ("mail_server:7 (relay)" in its changes).
    kind = target.split(":", 1)[0]
    entry = session.exec(
        select(AuditEntry)
        .where(
            or_(
                and_(
                    col(AuditEntry.target) == target,
                    col(AuditEntry.action).in_([f"{kind}.update", f"{kind}.set_default"]),
                ),
                and_(
                    col(AuditEntry.action) == f"{kind}.set_default",
                    cast(AuditEntry.changes, String).contains(f"{target} ("),
                ),
            )
        )
        .order_by(col(AuditEntry.id).desc())
        .limit(1)
    ).first()
    by = ""
    if entry is not None:
        by = f" (by {entry.actor} via {entry.source} at {entry.at:%Y-%m-%d %H:%M} UTC)"
    raise StaleVersion(
        f"{what} was changed by someone else since you opened it{by} — reload to see the change",
        current,
    )
