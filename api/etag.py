"""ETags of mail servers and email accounts, and the `If-Match` check (optimistic concurrency).

An ETag is the row's version (core.services.versions: a digest of what an admin sets, secrets
as digests of their ciphertext), quoted. `check_if_match`: without `If-Match` an update proceeds
(last write wins, as before); with one that names none of the current ETags (`*` names any),
412 and nothing changes. The check runs in the write's own transaction, on the row it is about
to change.
"""

from __future__ import annotations

from api.errors import ApiError
from core.models.mail import EmailAccount, MailServer
from core.services.versions import account_version, server_version


def server_etag(row: MailServer) -> str:
    """The quoted ETag of a mail server row."""
    return f'"{server_version(row)}"'


def account_etag(row: EmailAccount) -> str:
    """The quoted ETag of an email account row."""
    return f'"{account_version(row)}"'


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
