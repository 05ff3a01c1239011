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
from urllib.parse import quote

from core.attachments import Attachment
from core.mail.headers import automatic_headers
from core.rendering import RenderedMessage

CRLF = b"\r\n"
# RFC 2045 token characters: what a parameter value may be without quotes.
_TOKEN = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`{|}~"
)


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


def _param(name: str, value: str, *, bare: bool = True) -> str:
    """A MIME parameter: a token bare (`method=REQUEST`, as calendar clients expect it) unless
    told, other ASCII quoted, anything else in RFC 2231 form (a payload's file name)."""
    if bare and value and all(char in _TOKEN for char in value):
        return f"; {name}={value}"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'; {name}="{value}"'
    return f"; {name}*=utf-8''{quote(value, safe='')}"


def _attachment_part(attachment: Attachment) -> bytes:
    """An attachment in base64; a file (not an alternative) is named and marked attachment."""
    params = "".join(_param(key, value) for key, value in attachment.params)
    named = not attachment.alternative
    if named:
        params += _param("name", attachment.filename, bare=False)
    headers = f"Content-Type: {attachment.content_type}{params}\r\n"
    headers += "Content-Transfer-Encoding: base64\r\n"
    if named:
        filename = _param("filename", attachment.filename, bare=False)
        headers += f"Content-Disposition: attachment{filename}\r\n"
    return (headers + "\r\n").encode() + base64.encodebytes(attachment.data).replace(b"\n", CRLF)


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
    # Alternatives (an invitation's calendar) join the text and HTML; files make the message
    # multipart/mixed around them, as RenderedMessage.to_email_message() does.
    alternatives = [_text_part("plain", message.text), html_part] + [
        _attachment_part(a) for a in message.attachments if a.alternative
    ]
    body = (
        f'Content-Type: multipart/alternative; boundary="{outer}"\r\n\r\n'.encode()
        + b"".join(f"--{outer}\r\n".encode() + part + CRLF for part in alternatives)
        + f"--{outer}--\r\n".encode()
    )
    files = [_attachment_part(a) for a in message.attachments if not a.alternative]
    if files:
        mixed = _boundary()
        body = (
            f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n\r\n'.encode()
            + b"".join(f"--{mixed}\r\n".encode() + part + CRLF for part in [body, *files])
            + f"--{mixed}--\r\n".encode()
        )
    return head.encode("ascii") + CRLF + body
