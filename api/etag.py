"""ETags of mail servers and email accounts, and `If-Match` (optimistic concurrency).

An ETag is the row's version (core.services.versions: a digest of what an admin sets, secrets
as digests of their ciphertext), quoted. The check itself is the core's, as for the TUI: a
route hands `if_match(request)` to the update or delete service, which compares it with the
row's version in the write's own transaction and raises StaleVersion; `stale_is_412` turns that
into the 412 (the current ETag in the header and the body), nothing changed. Without `If-Match`
(or with `*`) the write proceeds: last write wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from api.errors import ApiError
from core.models.mail import EmailAccount, MailServer
from core.services.versions import StaleVersion, account_version, server_version


def server_etag(row: MailServer) -> str:
    """The quoted ETag of a mail server row."""
    return f'"{server_version(row)}"'


def account_etag(row: EmailAccount) -> str:
    """The quoted ETag of an email account row."""
    return f'"{account_version(row)}"'


def if_match(request: web.Request) -> frozenset[str] | None:
    """The versions the request's `If-Match` names: None when it has none or names `*` (no
    check). A weak tag (`W/"…"`) counts as its strong form: the digest is of the same settings
    either way. An unquoted tag names no version, so a header of only such tags (or an empty
    one) matches nothing: 412."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    versions = set()
    for part in header.split(","):
        tag = part.strip()
        tag = tag[2:] if tag.startswith("W/") else tag
        if tag == "*":
            return None
        if len(tag) >= 2 and tag[0] == tag[-1] == '"':
            versions.add(tag[1:-1])
    return frozenset(versions)


@contextmanager
def stale_is_412(what: str) -> Iterator[None]:
    """A StaleVersion of the service called inside becomes a 412 naming `what`, with the row's
    current ETag."""
    try:
        yield
    except StaleVersion as stale:
        current = f'"{stale.current}"'
        raise ApiError(
            412,
            f"{what} was changed since you read it (ETag {current}): read it again and "
            "reapply your change",
            headers={"ETag": current},
            extra={"etag": current},
        ) from None
