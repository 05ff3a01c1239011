"""How SMTP failures read: a server's reply, and any failure of aiosmtplib or the socket layer,
as a `RetryableError` (4xx, timeouts, connection errors) or a `PermanentError` (5xx,
authentication refused, certificate not trusted), naming the step and never a secret.
"""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, NamedTuple

from aiosmtplib import errors as smtp_errors

from core.errors import DeliveryError, PermanentError, RetryableError

if TYPE_CHECKING:
    from core.mail.smtp_connection import SmtpConfig


class SmtpReply(NamedTuple):
    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.message}".strip()


def ssl_error_of(exc: BaseException) -> ssl.SSLError | None:
    """The ssl.SSLError behind `exc` (aiosmtplib wraps it in SMTPConnectError), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


STEP_WORDS = {
    "dns": "resolving the host name",
    "proxy": "connecting through the proxy",
    "connect": "connecting",
    "tls": "the TLS handshake",
    "greeting": "waiting for the greeting",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "authentication",
    "mail": "MAIL FROM",
    "rcpt": "RCPT TO",
    "data": "DATA",
}


def error_for_reply(
    code: int, message: str, *, step: str, config: SmtpConfig, what: str | None = None
) -> DeliveryError:
    """A server reply as an error: 4xx retryable, anything else permanent."""
    message = config.scrub(message)
    reply = str(SmtpReply(code, message))
    text = f"{what or STEP_WORDS.get(step, step)} refused by {config.address}: {reply}"
    kind = RetryableError if code // 100 == 4 else PermanentError
    return kind(text, step=step, code=code, reply=reply)


def classify(exc: BaseException, *, step: str, config: SmtpConfig) -> DeliveryError:
    """Any failure of aiosmtplib or the socket layer as a Retryable/PermanentError."""
    where = config.address
    if isinstance(exc, DeliveryError):
        return exc
    tls_error = ssl_error_of(exc)
    if tls_error is not None:
        tls_step = "tls" if step in ("connect", "greeting") else step
        if isinstance(tls_error, ssl.SSLCertVerificationError):
            reason = tls_error.verify_message or tls_error.reason or "verification failed"
            return PermanentError(
                f"TLS certificate of {where} is not trusted: {reason} "
                "(set ca_file to the issuing CA bundle, or fix the server's certificate)",
                step=tls_step,
            )
        if isinstance(tls_error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return RetryableError(
                f"{where} closed the connection during the TLS handshake", step=tls_step
            )
        return PermanentError(
            f"TLS handshake with {where} failed: {tls_error.reason or tls_error} "
            "(is the security mode right for this port?)",
            step=tls_step,
        )
    if isinstance(exc, smtp_errors.SMTPResponseException):
        if exc.code < 0:  # aiosmtplib's marker for a reply that is not SMTP
            return PermanentError(
                f"{where} answered something that is not SMTP during "
                f"{STEP_WORDS.get(step, step)} (wrong port or security mode?)",
                step=step,
            )
        return error_for_reply(exc.code, exc.message, step=step, config=config)
    if isinstance(exc, TimeoutError):  # SMTPTimeoutError is a TimeoutError
        return RetryableError(
            f"timed out after {config.timeout:g} s during {STEP_WORDS.get(step, step)} "
            f"with {where}",
            step=step,
        )
    cause = exc.__cause__ if isinstance(exc, smtp_errors.SMTPConnectError) else exc
    if isinstance(cause, socket.gaierror):
        return RetryableError(
            f"cannot resolve {config.host!r}: {cause.strerror or cause}", step="dns"
        )
    if isinstance(cause, ConnectionRefusedError):
        return RetryableError(f"connection refused by {where}", step="connect")
    if isinstance(exc, smtp_errors.SMTPConnectError):
        why = getattr(cause, "strerror", None) or cause or exc
        return RetryableError(f"cannot connect to {where}: {why}", step="connect")
    if isinstance(exc, ConnectionError | OSError):
        return RetryableError(
            f"{where} closed the connection during {STEP_WORDS.get(step, step)}", step=step
        )
    if isinstance(exc, ValueError):  # an address aiosmtplib refuses to put on the wire
        return PermanentError(f"{STEP_WORDS.get(step, step)}: {exc}", step=step)
    return RetryableError(f"{STEP_WORDS.get(step, step)} with {where} failed: {exc}", step=step)
