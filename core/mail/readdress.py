"""A stored message made into a new copy: new Message-ID and Date, optionally a new To.

A re-send (`deliveries resend`) sends the very message the recipient lost, byte for byte below
its header, so it works on the serialised bytes rather than re-building the MIME tree (which
would re-encode the parts). Only whole header fields are replaced; folded continuation lines
belong to the field above them.
"""

from __future__ import annotations

from email.utils import formatdate, make_msgid

from core.mail.headers import message_domain
from core.mail.mime import CRLF


def _fields(head: bytes) -> list[list[bytes]]:
    """The header's fields, each as its lines (the first, then its continuation lines)."""
    fields: list[list[bytes]] = []
    for line in head.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)
        else:
            fields.append([line])
    return fields


def _name(field: list[bytes]) -> bytes:
    return field[0].partition(b":")[0].strip().lower()


def readdressed(raw: bytes, *, sender: str, to: str | None = None) -> tuple[bytes, str]:
    """`raw` (a CRLF message) with a new Message-ID in the sender's domain, today's Date and,
    when `to` is given, `To: to`; the new bytes and the new Message-ID."""
    head, separator, body = raw.partition(CRLF + CRLF)
    if not separator:  # no body: the whole message is header
        head, body = raw.rstrip(b"\r\n"), b""
    message_id = make_msgid(domain=message_domain(sender))
    replacements = {
        b"message-id": f"Message-ID: {message_id}".encode(),
        b"date": f"Date: {formatdate(usegmt=True)}".encode(),
    }
    if to is not None:
        # An address validated by the caller; a non-ASCII one goes as UTF-8 (SMTPUTF8).
        replacements[b"to"] = f"To: {to}".encode()
    kept: list[bytes] = []
    for field in _fields(head):
        name = _name(field)
        if name in replacements:
            kept.append(replacements.pop(name))  # the first of a repeated field; drop the rest
        elif name not in (b"message-id", b"date", b"to") or (to is None and name == b"to"):
            kept.append(CRLF.join(field))
    # Fields the original did not have (a Bcc-style message without To) go after the others.
    kept.extend(replacements.values())
    return CRLF.join(kept) + CRLF + CRLF + body, message_id
