"""Tests of recipient modes and message headers: an owner's mode set through the service, the
worker drained until nothing is due, captured messages parsed, and an SMTP handler whose
replies to chosen recipients follow a script (`ScriptedRcpt`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from core.context import Context
from core.crypto import SecretBox
from core.models.delivery import Delivery
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.pipeline.worker import Worker
from core.services.notifications import update_notification_settings
from core.vocabulary import DeliveryStatus
from tests.support.factories import TESTER
from tests.support.smtp_handlers import CaptureHandler, Received


def set_owner(session: DbSession, box: SecretBox, tenant: Tenant | None, **fields: Any) -> None:
    """Change `tenant`'s (None: the system's) notification settings through the service."""
    update_notification_settings(
        session=session,
        box=box,
        tenant=tenant,
        changes=NotificationSettingsUpdate.parse(fields, system=tenant is None),
        actor=TESTER,
    )


def parsed(received: Received) -> EmailMessage:
    message = BytesParser(policy=default_policy).parsebytes(received.data)
    assert isinstance(message, EmailMessage)
    return message


def header_block(received: Received) -> str:
    """The raw header of a captured message, as text (CRLF kept)."""
    return received.data.partition(b"\r\n\r\n")[0].decode("ascii")


def deliveries(ctx: Context) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))))


async def drain(ctx: Context, *, rounds: int = 60, pause: float = 0.02) -> None:
    """Run the worker until no delivery is queued (retries come back after their short
    backoff: set `ctx.settings.retry_base_s` small)."""
    worker = Worker(ctx)
    try:
        for _ in range(rounds):
            await worker.run_once()
            with ctx.session() as session:
                waiting = session.exec(
                    select(Delivery.id).where(Delivery.status == DeliveryStatus.QUEUED)
                ).first()
            if waiting is None:
                return
            await asyncio.sleep(pause)
        raise AssertionError(f"deliveries still queued after {rounds} rounds")
    finally:
        await worker.close()


class ScriptedRcpt(CaptureHandler):
    """Answers RCPT for chosen addresses from a script, one reply per attempt (None: accept),
    then accepts; every other address is accepted. Counts the RCPTs of each address."""

    def __init__(self, script: dict[str, Iterable[str | None]]) -> None:
        super().__init__()
        self.script = {address.lower(): list(replies) for address, replies in script.items()}
        self.rcpts: dict[str, int] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        key = address.lower()
        with self._lock:
            self.rcpts[key] = self.rcpts.get(key, 0) + 1
            replies = self.script.get(key)
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"
