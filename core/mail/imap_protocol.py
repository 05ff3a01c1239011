"""The IMAP connection of core.mail.imap: aioimaplib plus what it lacks; plain-language errors.

aioimaplib has no STARTTLS, no EXAMINE and no one-shot authentication; `_Protocol` adds them with
the library's own `Command`/`execute` and asyncio's documented `loop.start_tls`:
- EXAMINE opens the folder read-only, so no flag (not even \\Recent) changes on the server;
- STARTTLS upgrades the library's transport in place, drops anything buffered in clear, and
  reads the capabilities again;
- LOGIN / AUTHENTICATE PLAIN / AUTHENTICATE XOAUTH2 are sent once, with the secret as it appears
  on the wire scrubbed from aioimaplib's debug log (its own `login` scrubs the raw password, not
  the quoted one, and its `xoauth2` scrubs the token, not the base64 it sends);
- a refused XOAUTH2 exchange gets the empty answer the server waits for.

`describe` turns any exception into an `ImapError` whose message an admin can act on.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aioimaplib import aioimaplib as lib

from core.errors import MailbellError
from core.mail import imap_parse as p

TokenProvider = Callable[[], Awaitable[str]]
Progress = Callable[[int, int], None]


def security_for(tls: bool, port: int) -> str:
    """An account's TLS switch and port as a mode: TLS on 143 means STARTTLS."""
    if not tls:
        return "plain"
    return "starttls" if port == 143 else "tls"


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int = 993
    username: str = ""
    password: str | None = field(default=None, repr=False)
    security: str = "tls"
    folder: str = "INBOX"
    timeout: float = 30.0
    ca_file: str | None = None
    ca_pem: str | None = field(default=None, repr=False)
    token_provider: TokenProvider | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class ImapError(MailbellError):
    """A server-side or network fault. `kind`: auth, certificate, refused, timeout, tls_mismatch,
    dns, network, connection_lost, starttls, folder, oauth, protocol, config."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class LoginRefused(ImapError):
    """The server answered LOGIN or AUTHENTICATE with NO/BAD: a failed login that it counts
    (lockouts, fail2ban), unlike an account without credentials or a dropped connection."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="auth")


def tls_context(ca_file: str | None = None, ca_pem: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system store (OpenSSL honours SSL_CERT_FILE/SSL_CERT_DIR)
    plus `ca_file` and the mail server's `ca_pem` (PEM text).
    Cached: loading the system store costs tens of milliseconds."""
    key = [ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")]
    for path in (ca_file, key[1]):
        with contextlib.suppress(OSError, TypeError):
            key.append(str(os.stat(path).st_mtime_ns))  # type: ignore[arg-type]
    return _tls_context(ca_file, ca_pem, tuple(key))


@functools.lru_cache(maxsize=32)
def _tls_context(
    ca_file: str | None, ca_pem: str | None, _key: tuple[str | None, ...]
) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ImapError(f"CA file {ca_file} cannot be used: {exc}", kind="config") from None
    if ca_pem:
        try:
            context.load_verify_locations(cadata=ca_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise ImapError(f"ca_pem cannot be used: {exc}", kind="config") from None
    return context


def encode_mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + raw.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return lib.quoted("".join(out))


class _Protocol(lib.IMAP4ClientProtocol):
    """aioimaplib's protocol plus EXAMINE, STARTTLS and one-shot authentication."""

    transport: Any
    bytes_received = 0

    def data_received(self, d: bytes) -> None:
        self.bytes_received += len(d)
        super().data_received(d)

    @lib.change_state
    async def examine(self, mailbox: str) -> lib.Response:
        response = await self.execute(
            lib.Command("EXAMINE", self.new_tag(), mailbox, loop=self.loop)
        )
        if response.result == "OK":
            self.state = lib.SELECTED
        return response

    @lib.change_state
    async def starttls(
        self, context: ssl.SSLContext, hostname: str, timeout: float
    ) -> lib.Response:
        response = await self.execute(lib.Command("STARTTLS", self.new_tag(), loop=self.loop))
        if response.result == "OK":
            self.incomplete_line = b""  # nothing sent in clear may count as protected
            self.transport = await self.loop.start_tls(
                self.transport,
                self,
                context,
                server_hostname=hostname,
                ssl_handshake_timeout=timeout,
            )
            await self.capability()
        return response

    @lib.change_state
    async def authenticate(self, mechanism: str, initial: str) -> lib.Response:
        command = lib.Command("AUTHENTICATE", self.new_tag(), mechanism, initial, loop=self.loop)
        response = await self.execute(command, scrub=initial)
        if response.result == "OK":
            self.state = lib.AUTH
        return response

    @lib.change_state
    async def login_once(self, user: str, password: str) -> lib.Response:
        secret = lib.quoted(password)
        command = lib.Command("LOGIN", self.new_tag(), lib.quoted(user), secret, loop=self.loop)
        response = await self.execute(command, scrub=secret)
        if response.result == "OK":
            self.state = lib.AUTH
        return response

    def _continuation(self, line: bytes) -> None:
        pending = self.pending_sync_command
        if pending is not None and pending.name == "AUTHENTICATE":
            # A refused SASL-IR exchange (XOAUTH2) sends an error challenge and waits for an
            # empty answer before its tagged NO; without it the client would wait for a timeout.
            self.send("")
            return
        super()._continuation(line)


class _Imap4(lib.IMAP4):
    protocol: _Protocol

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop, conn_lost_cb)
        connect = local_loop.create_connection(
            lambda: self.protocol, host, port, ssl=ssl_context,
            ssl_handshake_timeout=self.timeout if ssl_context else None,
        )  # fmt: skip
        self._client_task = local_loop.create_task(connect)


# OpenSSL's words for "the other side does not speak TLS".
_TLS_MISMATCH = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER",
    "PACKET_LENGTH",
    "HTTP_REQUEST",
    "UNKNOWN_PROTOCOL",
    "UNEXPECTED_RECORD",
    "UNEXPECTED_EOF",
    "EOF occurred",
)


def describe(exc: BaseException, config: ImapConfig, step: str) -> ImapError:
    """A plain-language `ImapError` for whatever went wrong while `step`."""
    where = config.where
    if isinstance(exc, ImapError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ImapError(
            f"certificate not trusted: {where} presented a certificate that fails verification "
            f"({exc.verify_message}); add its CA to SSL_CERT_FILE or to the mail server's CA file",
            kind="certificate",
        )
    if isinstance(exc, ssl.SSLError) or (step == "connecting" and isinstance(exc, EOFError)):
        text = str(exc)
        if config.security == "tls" and any(mark in text for mark in _TLS_MISMATCH):
            return ImapError(
                f"TLS to a plain port: {where} does not speak TLS (a 143-style port?); "
                "use port 993 with TLS, or switch TLS off for a plain port",
                kind="tls_mismatch",
            )
        return ImapError(f"TLS handshake with {where} failed: {text}", kind="tls_mismatch")
    if isinstance(exc, ConnectionRefusedError):
        return ImapError(
            f"connection refused: nothing accepts IMAP connections on {where} "
            "(check host and port: 993 with TLS, 143 without)",
            kind="refused",
        )
    if isinstance(exc, socket.gaierror):
        return ImapError(f"host not found: {config.host} does not resolve", kind="dns")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | lib.CommandTimeout):
        hint = ""
        if step == "connecting" and config.security != "tls":
            hint = " (no greeting: if this is a TLS port such as 993, switch TLS on)"
        return ImapError(
            f"timeout: {where} did not answer within {config.timeout:g} s while {step}{hint}",
            kind="timeout",
        )
    if isinstance(exc, ConnectionError | lib.IncompleteRead):
        return ImapError(
            f"connection lost: {where} closed the connection while {step}", kind="connection_lost"
        )
    if isinstance(exc, OSError):
        return ImapError(f"cannot reach {where}: {exc.strerror or exc}", kind="network")
    if isinstance(exc, lib.AioImapException | p.MessageUnreadable):
        return ImapError(f"unexpected answer from {where} while {step}: {exc}", kind="protocol")
    return ImapError(f"{step} failed: {type(exc).__name__}", kind="protocol")


def _reply(response: lib.Response, *secrets: str | None) -> str:
    last = response.lines[-1] if response.lines else b""
    text = bytes(last).decode("utf-8", "replace").strip()[:200]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
