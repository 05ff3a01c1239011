"""Serialise a rendered message to RFC 5322 bytes, fast.

`email.message.EmailMessage` costs well over a millisecond per message; emit has a budget of
about two for validation, rendering and the commit together. The structure here is fixed
(multipart/alternative, with multipart/related around the HTML when images are inline), so it is
written directly: quoted-printable UTF-8 bodies (binascii, in C), RFC 2047 headers only when a
header is not ASCII, CRLF line ends, and the automatic headers of core/mail/headers.py. Tests
parse the result back with the stdlib parser.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable
from email.utils import parseaddr

from core.mail.headers import automatic_headers
from core.rendering import RenderedMessage

CRLF = b"\r\n"


ENCODED_WORD_BYTES = 45  # 60 base64 characters: each word stays within RFC 2047's 75


def _encoded_word(value: str) -> str:
    """One encoded word: display names are kept whole (parsers read split names with gaps)."""
    return f"=?utf-8?b?{base64.b64encode(value.encode('utf-8')).decode()}?="


def _encoded_words(value: str) -> str:
    """RFC 2047 "B" encoded words, split on character boundaries, folded one per line."""
    words: list[bytes] = []
    chunk = b""
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


def _header_text(value: str) -> str:
    return value if value.isascii() else _encoded_words(value)


def _address(value: str) -> str:
    if value.isascii():
        return value
    name, address = parseaddr(value)
    return f"{_encoded_word(name)} <{address}>" if name else address


def _addresses(values: Iterable[str]) -> str:
    """Addresses (display names encoded where needed), folded one per line."""
    return ",\r\n ".join(_address(value) for value in values)


def _qp(text: str) -> bytes:
    # b2a_qp wants LF-free input per line; normalise, encode, then use CRLF line ends.
    body = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return body.replace(b"\n", CRLF)


def _text_part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + _qp(text)


def _boundary() -> str:
    return "=_mb_" + secrets.token_hex(12)


def serialize(message: RenderedMessage) -> bytes:
    """The complete message, ready for SMTP DATA (CRLF line ends)."""
    headers = [
        f"From: {_addresses([message.mail_from])}",
        f"To: {_addresses(message.to)}" if message.to else None,
        f"Reply-To: {_addresses([message.reply_to])}" if message.reply_to else None,
        f"Subject: {_header_text(message.subject)}",
        f"Date: {message.date}",
        f"Message-ID: {message.message_id}",
        *(f"{name}: {value}" for name, value in automatic_headers(message.list_id)),
        "MIME-Version: 1.0",
    ]
    outer = _boundary()
    html_part = _text_part("html", message.html)
    if message.inline:
        related = _boundary()
        pieces = [f"--{related}".encode() + CRLF + html_part]
        for image in message.inline:
            encoded = base64.encodebytes(image.data).replace(b"\n", CRLF)
            pieces.append(
                (
                    f"--{related}\r\n"
                    f"Content-Type: image/{image.subtype}\r\n"
                    "Content-Transfer-Encoding: base64\r\n"
                    f"Content-ID: <{image.cid}>\r\n"
                    f'Content-Disposition: inline; filename="{image.filename}"\r\n\r\n'
                ).encode()
                + encoded
            )
        html_part = (
            f'Content-Type: multipart/related; boundary="{related}"\r\n\r\n'.encode()
            + CRLF.join(pieces)
            + CRLF
            + f"--{related}--".encode()
        )
    head = "\r\n".join(h for h in headers if h is not None)
    return (
        head.encode("ascii")
        + CRLF
        + f'Content-Type: multipart/alternative; boundary="{outer}"\r\n\r\n'.encode()
        + f"--{outer}\r\n".encode()
        + _text_part("plain", message.text)
        + CRLF
        + f"--{outer}\r\n".encode()
        + html_part
        + CRLF
        + f"--{outer}--\r\n".encode()
    )
