"""Mail the capture SMTP server of `mailbell demo` received: one .eml file per message."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from tui import format as fmt

LIMIT = 500


@dataclass(frozen=True)
class Captured:
    name: str
    sender: str
    to: str
    subject: str
    date: str
    body: str


def read_captured(folder: Path) -> list[Captured]:
    """Newest first; each file is one message as the server received it."""
    files = sorted(folder.glob("*.eml"), key=lambda p: p.name, reverse=True)[:LIMIT]
    found = []
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain", "html"))
        try:
            date = fmt.when(parsedate_to_datetime(str(message["Date"])))
        except (TypeError, ValueError):
            date = ""
        found.append(
            Captured(
                name=path.name,
                sender=str(message["From"] or ""),
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or "(no subject)"),
                date=date,
                body=body.get_content().strip() if body is not None else "",
            )
        )
    return found
