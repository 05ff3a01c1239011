"""The header rewrite of a re-sent email (core/mail/readdress.py): whole fields replaced, folded
lines kept with their field, the body untouched byte for byte."""

from __future__ import annotations

from core.mail.headers import message_domain
from core.mail.readdress import readdressed

HEAD = (
    b"From: PBX <pbx@acme.example>\r\n"
    b"To: ops@acme.example,\r\n boss@acme.example\r\n"
    b"Subject: =?utf-8?b?w6k=?=\r\n"
    b"Date: Sat, 05 Dec 2026 10:05:00 GMT\r\n"
    b"Message-ID: <1.2.3@acme.example>\r\n"
    b"Auto-Submitted: auto-generated\r\n"
    b"MIME-Version: 1.0\r\n"
)
BODY = b'Content-Type: text/plain; charset="utf-8"\r\n\r\nTo: not a header\r\n'
RAW = HEAD + b"\r\n" + BODY


def _fields(raw: bytes) -> list[str]:
    head = raw.partition(b"\r\n\r\n")[0].decode()
    return [line.split(":")[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]


def test_new_to_message_id_and_date_the_rest_kept() -> None:
    raw, message_id = readdressed(RAW, sender="pbx@acme.example", to="night@acme.example")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == BODY
    assert b"To: night@acme.example\r\n" in head + b"\r\n"
    assert b"boss@acme.example" not in head  # the folded line went with its field
    assert message_id.endswith("@acme.example>") and message_id != "<1.2.3@acme.example>"
    assert f"Message-ID: {message_id}".encode() in head
    assert b"10:05:00" not in head
    assert b"Auto-Submitted: auto-generated" in head and b"Subject: =?utf-8?b?w6k=?=" in head
    assert sorted(_fields(raw)) == sorted(_fields(RAW))  # each field once, none added or lost


def test_without_an_address_the_recipients_stay() -> None:
    raw, _ = readdressed(RAW, sender="PBX <pbx@acme.example>")
    assert b"To: ops@acme.example,\r\n boss@acme.example\r\n" in raw
    assert raw.partition(b"\r\n\r\n")[2] == BODY


def test_a_message_without_to_gets_one() -> None:
    undisclosed = RAW.replace(b"To: ops@acme.example,\r\n boss@acme.example\r\n", b"")
    raw, _ = readdressed(undisclosed, sender="pbx@acme.example", to="x@acme.example")
    assert _fields(raw).count("To") == 1 and b"To: x@acme.example" in raw


def test_message_domain() -> None:
    assert message_domain("PBX <pbx@Acme.Example>") == "Acme.Example"
    assert message_domain("pbx@bücher.example") == "xn--bcher-kva.example"
    assert message_domain("") == "mailbell.invalid"
