"""Helpers of the IMAP tests: messages to put in Dovecot's mailboxes, and reading back what a
sync stored. The fixtures (a real Dovecot, accounts that read it) are in tests/mail/conftest.py."""

from __future__ import annotations

import email.message
import email.policy
import itertools
import secrets
from collections.abc import Callable

from sqlmodel import col, select

from core.context import Context
from core.models.inbound import InboundMessage
from core.models.mail import EmailAccount

numbers = itertools.count(1)  # unique addresses and Message-IDs across a run


def make_message(
    subject: str = "Hello",
    body: str = "Hello there, this is the body.",
    *,
    message_id: str | None = None,
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    message = email.message.EmailMessage()
    message["From"] = "Ann Example <ann@example.org>"
    message["To"] = "Bob <bob@example.org>, carol@example.org"
    message["Subject"] = subject
    message["Date"] = "Sun, 22 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = message_id or f"<m{next(numbers)}.{secrets.token_hex(4)}@example.org>"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes(policy=email.policy.SMTP)


AccountFactory = Callable[..., int]


def rows(ctx: Context, account_id: int) -> list[InboundMessage]:
    with ctx.session() as session:
        query = select(InboundMessage).where(InboundMessage.account_id == account_id)
        return list(session.exec(query.order_by(col(InboundMessage.uid))))


def account(ctx: Context, account_id: int) -> EmailAccount:
    with ctx.session() as session:
        found = session.get(EmailAccount, account_id)
        assert found is not None
        return found
