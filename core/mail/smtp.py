"""SMTP sending: a pool of reused, authenticated connections per mail server.

    pool = SmtpPool(SmtpConfig.from_server(server, box), size=4)
    result = await pool.send(sender="ops@example.com", recipients=[...], message=raw_bytes)
    result.accepted, result.refused, result.reply       # SendResult
    await pool.close()

`send` takes an idle connection (or opens one: connect, EHLO, STARTTLS per the security mode,
one AUTH), runs MAIL / RCPT… / DATA and puts the connection back. At most `size` connections
are open and at most `size` sends run at once. A connection the server closed (421, idle
timeout, restart) is dropped; a send that finds its reused connection dead before MAIL is
retried once on a fresh one. Recipients refused one by one come back in `SendResult.refused`;
when every recipient is refused the send raises `RecipientsRefusedTemporarily` (any 4xx) or
`RecipientsRefused` (all 5xx), both carrying `.refused`. Other failures raise `RetryableError`
or `PermanentError` with `step` (connect, tls, ehlo, starttls, auth, oauth, mail, rcpt, data),
`code` and `reply` — see `core.mail.smtp_connection` for the connection rules.

`message` is the serialised message (bytes, CRLF line ends, as `email.policy.SMTP` writes it).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from aiosmtplib import SMTP
from aiosmtplib import errors as smtp_errors

from core.errors import DeliveryError, PermanentError, RetryableError
from core.mail.smtp_connection import (
    SmtpConfig,
    build_tls_context,
    open_connection,
    quit_quietly,
    reset,
    warn_unverified,
)
from core.mail.smtp_errors import SmtpReply, classify, error_for_reply

__all__ = [
    "RecipientsRefused",
    "RecipientsRefusedTemporarily",
    "SendResult",
    "SmtpConfig",
    "SmtpPool",
    "SmtpReply",
]


@dataclass
class SendResult:
    accepted: list[str]
    refused: dict[str, SmtpReply]  # recipients refused one by one (4xx or 5xx each)
    reply: SmtpReply | None  # the server's answer to DATA


class RecipientsRefusedTemporarily(RetryableError):
    """Every recipient was refused, at least one with a 4xx; `refused` holds each reply."""

    def __init__(self, message: str, *, refused: dict[str, SmtpReply], code: int) -> None:
        super().__init__(message, step="rcpt", code=code, reply=_first_reply(refused, code))
        self.refused = refused


class RecipientsRefused(PermanentError):
    """Every recipient was refused with a 5xx; `refused` holds each reply."""

    def __init__(self, message: str, *, refused: dict[str, SmtpReply], code: int) -> None:
        super().__init__(message, step="rcpt", code=code, reply=_first_reply(refused, code))
        self.refused = refused


def _first_reply(refused: dict[str, SmtpReply], code: int) -> str | None:
    return next((str(reply) for reply in refused.values() if reply.code == code), None)


class _DeadBeforeMail(Exception):
    """The connection was gone when MAIL FROM went out: nothing was sent on it."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(error.message)
        self.error = error


class SmtpPool:
    """Reused connections to one server; `send` is safe to call from many tasks at once."""

    def __init__(self, config: SmtpConfig, *, size: int = 4, max_idle: float = 60.0) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.config = config
        self.size = size
        self.max_idle = max_idle
        self.connections_opened = 0  # how many connections this pool has opened (stats, tests)
        self._idle: list[tuple[SMTP, float]] = []
        self._slots = asyncio.Semaphore(size)
        self._tls_context: ssl.SSLContext | None = None
        self._closed = False
        warn_unverified(config)

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def send(self, *, sender: str, recipients: Sequence[str], message: bytes) -> SendResult:
        if self._closed:
            raise RuntimeError("the SMTP pool is closed")
        if not recipients:
            raise ValueError("a message needs at least one recipient")
        async with self._slots:
            smtp, reused = await self._checkout()
            try:
                try:
                    result = await self._transaction(smtp, sender, recipients, message)
                except _DeadBeforeMail as dead:
                    smtp.close()
                    if not reused:
                        raise dead.error from None
                    smtp, reused = await self._open(), False
                    try:
                        result = await self._transaction(smtp, sender, recipients, message)
                    except _DeadBeforeMail as again:
                        raise again.error from None
            except BaseException:
                self._checkin(smtp)
                raise
            self._checkin(smtp)
            return result

    async def close(self) -> None:
        """QUIT the idle connections; connections in use close when their send ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(quit_quietly(smtp) for smtp, _ in idle))

    # --- connections -----------------------------------------------------------------------

    async def _checkout(self) -> tuple[SMTP, bool]:
        idle = self._idle
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                smtp, used_at = idle.pop()
                if smtp.is_connected and now - used_at < self.max_idle:
                    return smtp, True
                smtp.close()
        return await self._open(), False

    async def _open(self) -> SMTP:
        if self._tls_context is None and self.config.security != "none":
            self._tls_context = build_tls_context(self.config)
        smtp = await open_connection(self.config, tls_context=self._tls_context)
        self.connections_opened += 1
        return smtp

    def _checkin(self, smtp: SMTP) -> None:
        if self._closed or not smtp.is_connected:
            smtp.close()
            return
        self._idle.append((smtp, asyncio.get_running_loop().time()))

    # --- one transaction -------------------------------------------------------------------

    async def _transaction(
        self, smtp: SMTP, sender: str, recipients: Sequence[str], message: bytes
    ) -> SendResult:
        config = self.config
        options = [f"SIZE={len(message)}"] if smtp.supports_extension("size") else []
        encoding = "ascii"
        if not (sender.isascii() and all(address.isascii() for address in recipients)):
            if not smtp.supports_extension("smtputf8"):
                raise PermanentError(
                    f"{config.address} does not support SMTPUTF8, needed for a non-ASCII address",
                    step="mail",
                )
            options.append("SMTPUTF8")
            encoding = "utf-8"

        try:
            await smtp.mail(sender, options=options, encoding=encoding)
        except smtp_errors.SMTPServerDisconnected as exc:
            raise _DeadBeforeMail(classify(exc, step="mail", config=config)) from None
        except smtp_errors.SMTPSenderRefused as exc:
            error = error_for_reply(exc.code, exc.message, step="mail", config=config)
            if exc.code == 421:  # the server is closing this connection
                smtp.close()
                raise _DeadBeforeMail(error) from None
            await reset(smtp, config)
            raise error from None
        except Exception as exc:
            await reset(smtp, config)  # a no-op on a closed connection
            raise classify(exc, step="mail", config=config) from exc

        accepted: list[str] = []
        refused: dict[str, SmtpReply] = {}
        for address in recipients:
            try:
                await smtp.rcpt(address, encoding=encoding)
            except smtp_errors.SMTPRecipientRefused as exc:
                refused[address] = SmtpReply(exc.code, config.scrub(exc.message))
                if exc.code == 421 or not smtp.is_connected:
                    smtp.close()
                    raise error_for_reply(
                        exc.code, exc.message, step="rcpt", config=config
                    ) from None
            except Exception as exc:
                await reset(smtp, config)  # a no-op on a closed connection
                raise classify(exc, step="rcpt", config=config) from exc
            else:
                accepted.append(address)
        if not accepted:
            await reset(smtp, config)
            raise _all_refused(refused, config)

        try:
            response = await smtp.data(message)
        except smtp_errors.SMTPDataError as exc:
            if exc.code == 421:
                smtp.close()
            else:
                await reset(smtp, config)
            raise error_for_reply(exc.code, exc.message, step="data", config=config) from None
        except Exception as exc:
            await reset(smtp, config)  # a no-op on a closed connection
            raise classify(exc, step="data", config=config) from exc
        return SendResult(accepted, refused, SmtpReply(response.code, response.message))


def _all_refused(refused: dict[str, SmtpReply], config: SmtpConfig) -> DeliveryError:
    summary = "; ".join(f"{address}: {reply}" for address, reply in refused.items())
    temporary = [reply.code for reply in refused.values() if reply.code // 100 == 4]
    if temporary:
        return RecipientsRefusedTemporarily(
            f"{config.address} refused every recipient (some temporarily): {summary}",
            refused=refused,
            code=temporary[0],
        )
    return RecipientsRefused(
        f"{config.address} refused every recipient: {summary}",
        refused=refused,
        code=next(iter(refused.values())).code,
    )
