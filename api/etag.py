"""ETags of mail servers and email accounts, and the `If-Match` check (optimistic concurrency).

An ETag is a digest of what an admin sets on the resource: its Read model without the fields
the service itself moves (a test's outcome, a sync's counters, a token refresh's marks), plus a
digest of each stored secret's ciphertext (a secret is re-encrypted only when it changes), so a
new password changes the ETag while no secret, nor its digest, is ever shown. A digest needs no
migration, and a sync or a test between a read and a write does not turn the write into a 412.

`check_if_match`: without `If-Match` an update proceeds (last write wins, as before); with one
that names none of the current ETags (`*` names any), 412 and nothing changes. The check runs in
the write's own transaction, on the row it is about to change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from api.errors import ApiError
from core.models.mail import EmailAccount, EmailAccountRead, MailServer, MailServerRead

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
SERVER_SECRETS = ("password_enc", "proxy_password_enc", "oauth_client_secret_enc")
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


def _digest(read: BaseModel, status: frozenset[str], row: Any, secrets: tuple[str, ...]) -> str:
    settings = read.model_dump(mode="json", exclude=set(status))
    for name in secrets:
        stored = getattr(row, name)
        settings[name] = None if stored is None else hashlib.sha256(stored.encode()).hexdigest()
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def server_etag(row: MailServer) -> str:
    """The quoted ETag of a mail server row."""
    return _digest(MailServerRead.of(row), SERVER_STATUS, row, SERVER_SECRETS)


def account_etag(row: EmailAccount) -> str:
    """The quoted ETag of an email account row."""
    return _digest(EmailAccountRead.of(row), ACCOUNT_STATUS, row, ACCOUNT_SECRETS)


def _tags(header: str) -> set[str]:
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        # A weak tag compares as its strong form: the digest is of the same settings either way.
        tags.add(tag[2:] if tag.startswith("W/") else tag)
    return tags


def check_if_match(header: str | None, current: str, what: str) -> None:
    """412 unless `header` (the request's If-Match; None: absent) names `current`."""
    if header is None:
        return
    tags = _tags(header)
    if "*" in tags or current in tags:
        return
    raise ApiError(
        412,
        f"{what} was changed since you read it (ETag {current}): read it again and "
        "reapply your change",
        headers={"ETag": current},
        extra={"etag": current},
    )
