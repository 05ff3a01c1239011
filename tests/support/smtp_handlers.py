"""Handlers for the aiosmtpd test servers: capture every message, or answer chosen faults.

`CaptureHandler` stores each accepted message as a `Received` (thread-safe: the server runs in
its own thread); `FaultHandler` answers given replies at MAIL, RCPT (per address) or DATA, or
stalls, optionally for the first N transactions only. See `tests.support.smtp_servers`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["AuthAttempt", "CaptureHandler", "FaultHandler", "Received"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message_id: str | None
    tls: bool
    auth_user: str | None

    @property
    def subject(self) -> str | None:
        message = BytesParser(policy=default_policy).parsebytes(self.data, headersonly=True)
        return message["Subject"]


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    login: str
    success: bool


class CaptureHandler:
    """Stores every accepted message; answers 250 with a queue id."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._messages: list[Received] = []

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until `count` messages arrived (sync tests; the server runs in a thread)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._messages) >= count, timeout)
            return list(self._messages)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        headers = BytesParser(policy=default_policy).parsebytes(data, headersonly=True)
        auth = session.auth_data
        login = getattr(auth, "login", auth)
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message_id=headers["Message-ID"],
            tls=bool(session.ssl) or getattr(server, "implicit_tls", False),
            auth_user=login.decode() if isinstance(login, bytes) else login,
        )
        with self._lock:
            self._messages.append(received)
            number = len(self._messages)
            self._lock.notify_all()
        return f"250 2.0.0 Ok: queued as M{number}"


class FaultHandler(CaptureHandler):
    """Answers chosen failures at MAIL, RCPT or DATA, or stalls; otherwise captures."""

    def __init__(
        self,
        *,
        mail: str | None = None,
        rcpt: dict[str, str] | None = None,
        data: str | None = None,
        stall: float | None = None,
        stall_at: str = "data",
        times: int | None = None,
    ) -> None:
        super().__init__()
        self.mail_reply = mail
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt or {}).items()}
        self.data_reply = data
        self.stall = stall
        self.stall_at = stall_at
        self.times = times
        self.transactions = 0

    def _active(self) -> bool:
        return self.times is None or self.transactions <= self.times

    @staticmethod
    def _answer(server: SMTP, reply: str) -> str:
        if reply.startswith("421") and server.transport is not None:
            server.loop.call_soon(server.transport.close)
        return reply

    async def _maybe_stall(self, at: str) -> None:
        if self.stall and self.stall_at == at and self._active():
            await asyncio.sleep(self.stall)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        with self._lock:
            self.transactions += 1
        await self._maybe_stall("mail")
        if self.mail_reply and self._active():
            return self._answer(server, self.mail_reply)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        await self._maybe_stall("rcpt")
        reply = self.rcpt_replies.get(address.lower())
        if reply and self._active():
            return self._answer(server, reply)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._maybe_stall("data")
        if self.data_reply and self._active():
            return self._answer(server, self.data_reply)
        return await super().handle_DATA(server, session, envelope)
