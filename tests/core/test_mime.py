"""The fast serialiser produces messages the stdlib parser reads back exactly."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest

from core import catalog
from core.mail.mime import serialize
from core.rendering import render

TO = ["ops@acme.org", "Zoë Łukasz-Ünïcode Name That Is Rather Long <zoe@acme.org>"]
FROM = "Alertes Réseau <alerts@acme.org>"


@pytest.mark.parametrize("name", catalog.NAMES)
def test_every_event_round_trips(name: str) -> None:
    rendered = render(name, catalog.sample(name), to=TO, server_from=FROM, reply_to="noc@acme.org")
    raw = serialize(rendered)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only: SMTP servers refuse bare LF
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert not message.defects
    assert message["Subject"] == rendered.subject
    assert message["From"] == FROM
    assert [str(a) for a in message["To"].addresses] == TO
    assert message["Reply-To"] == "noc@acme.org"
    assert message["Message-ID"] == rendered.message_id
    assert _lines(message.get_body(("plain",)).get_content()) == _lines(rendered.text)
    assert _lines(message.get_body(("html",)).get_content()) == _lines(rendered.html)


def _lines(text: str) -> list[str]:
    """Lines without trailing blanks, which quoted-printable decoders drop by design."""
    return [line.rstrip() for line in text.strip().splitlines()]


def test_inline_image_is_referenced_by_its_content_id() -> None:
    rendered = render("USER_CREATION", catalog.sample("USER_CREATION"), server_from=FROM)
    message = BytesParser(policy=policy.default).parsebytes(serialize(rendered))
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image.get_content() == rendered.inline[0].data
    cid = image["Content-ID"].strip("<>")
    assert f"cid:{cid}" in message.get_body(("html",)).get_content()


def test_encoded_words_stay_short() -> None:
    rendered = render("QUEUE_SLA", catalog.sample("QUEUE_SLA"), to=TO, server_from=FROM)
    raw = serialize(rendered).decode("ascii")
    subject = raw.split("Subject: ", 1)[1].split("\r\nDate:", 1)[0]
    for word in re.findall(r"=\?utf-8\?b\?[^?]*\?=", subject):
        assert len(word) <= 75
