"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1, each in its own thread and event loop.

Usable from sync and async tests alike (start/stop block for a few milliseconds only):

    with SmtpTestServer() as srv:                                   # plain, no AUTH
        srv.port, srv.host, srv.messages, srv.connections
    SmtpTestServer(mode="starttls", certs=certs)                    # STARTTLS offered
    SmtpTestServer(mode="starttls", certs=certs, require_starttls=True)   # 530 before STARTTLS
    SmtpTestServer(mode="tls", certs=certs)                         # implicit TLS
    SmtpTestServer(mode="silent")                                   # accepts, never greets
    SmtpTestServer(auth=True, users={"user": "secret"})             # AUTH PLAIN and LOGIN
    SmtpTestServer(auth=True, auth_mechanisms=("LOGIN",))           # advertise LOGIN only
    SmtpTestServer(xoauth2=endpoint.verify)                         # AUTH XOAUTH2 (token check)
    SmtpTestServer(handler=FaultHandler(rcpt={"b@x.org": "550 5.1.1 no such user"}))

Attributes (thread-safe snapshots):
- `messages`: list of `Received(mail_from, rcpt_tos, data, message_id, tls, auth_user)`,
  stored by the handler (a `CaptureHandler`, the default, or a subclass such as `FaultHandler`).
- `auth_attempts`: list of `AuthAttempt(mechanism, login, success)`; `connections`: how many
  client connections the server accepted since it was made (across restarts).
- `stop()` closes the listening socket and drops every open connection (the server "goes
  away"); `start()` comes back on the same port; `restart()` does both.
- `server_fields(**overrides)`: the `create_mail_server` data for this server (host, port,
  security, auth, username, password, ca_file); `smtp_config(**overrides)`: a `SmtpConfig`.

`FaultHandler(mail=…, rcpt={addr: reply}, data=…, stall=seconds, stall_at="data",
times=None)` answers the given replies ("421 …", "451 …", "550 …", "554 …") at MAIL, RCPT
(per address) or DATA, or sleeps `stall` seconds before answering at `stall_at`; `times=N`
makes the fault happen on the first N transactions only. A 421 reply also closes the
connection, as real servers do. Handlers and counters survive `stop()`/`start()`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.certs import TestCerts

__all__ = [
    "AuthAttempt",
    "CaptureHandler",
    "FaultHandler",
    "Received",
    "SmtpTestServer",
]

DEFAULT_USERS = {"user@example.com": "correct-horse"}

# aiosmtpd logs a deprecation warning on every successful AUTH (its own login_data use).
logging.getLogger("mail.log").setLevel(logging.ERROR)


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


class _TestSMTP(SMTP):
    """aiosmtpd's SMTP plus XOAUTH2, enhanced 530 text and optional hidden extensions."""

    def __init__(self, handler: Any, *, owner: SmtpTestServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner
        self.implicit_tls = owner.mode == "tls"

    async def push(self, status: str | bytes) -> None:
        text = status.decode() if isinstance(status, bytes) else status
        if self.owner.hide_auth and text.startswith("250-AUTH"):
            return
        if self.owner.hide_starttls and text.startswith("250-STARTTLS"):
            return
        if text == "530 Must issue a STARTTLS command first":
            text = "530 5.7.0 Must issue a STARTTLS command first"
        await super().push(text)

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) < 2:
            blob = await self.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=False)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1)
            for part in blob.decode(errors="replace").split("\x01")
            if "=" in part
        )
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        verify = self.owner.xoauth2
        ok = bool(verify and verify(user, token))
        self.owner._record_auth(AuthAttempt("XOAUTH2", user, ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        error = b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}'
        await self.challenge_auth(error)  # the client answers with an empty line
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and token not accepted"
        )


class _Silent(asyncio.Protocol):
    """Accepts the connection and never says a word (for greeting timeouts)."""


class SmtpTestServer:
    """An aiosmtpd server on 127.0.0.1 in its own thread; see the module docstring."""

    __test__ = False

    def __init__(
        self,
        *,
        mode: str = "plain",
        handler: CaptureHandler | None = None,
        certs: TestCerts | None = None,
        auth: bool = False,
        users: dict[str, str] | None = None,
        auth_mechanisms: tuple[str, ...] | None = None,
        xoauth2: Callable[[str, str], bool] | None = None,
        require_starttls: bool = False,
        hide_starttls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if mode not in ("plain", "starttls", "tls", "silent"):
            raise ValueError(f"unknown mode {mode!r}")
        if mode in ("starttls", "tls") and certs is None:
            raise ValueError(f"mode {mode!r} needs certs (tests.support.certs.make_test_certs)")
        self.mode = mode
        self.handler = handler if handler is not None else CaptureHandler()
        self.certs = certs
        self.auth = auth or xoauth2 is not None
        self.users = dict(users if users is not None else DEFAULT_USERS)
        self.xoauth2 = xoauth2
        self.require_starttls = require_starttls
        self.hide_starttls = hide_starttls
        self.hide_auth = not self.auth
        self.host = host
        self._port = port
        mechanisms = set(auth_mechanisms or (("PLAIN", "LOGIN") if auth else ()))
        if xoauth2 is not None:
            mechanisms.add("XOAUTH2")
        self._excluded = [m for m in ("PLAIN", "LOGIN", "XOAUTH2") if m not in mechanisms]
        self._lock = threading.Lock()
        self._auth_attempts: list[AuthAttempt] = []
        self._connections = 0
        self._live: set[asyncio.BaseTransport] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # --- what tests look at ------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        with self._lock:
            return list(self._auth_attempts)

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def security(self) -> str:
        return {"plain": "none", "silent": "none", "starttls": "starttls", "tls": "tls"}[self.mode]

    def server_fields(self, **overrides: Any) -> dict[str, Any]:
        """Data for `create_mail_server` / `settings set` pointing at this server."""
        username, password = next(iter(self.users.items()))
        fields: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "auth": "AUTO" if self.auth else "DISABLE",
            "timeout": 5,
        }
        if self.auth:
            fields.update(username=username, password=password)
        if self.certs is not None:
            fields["ca_file"] = str(self.certs.ca_file)
        fields.update(overrides)
        return fields

    def smtp_config(self, **overrides: Any) -> Any:
        from core.mail.smtp import SmtpConfig

        fields = self.server_fields()
        fields.pop("name", None)
        fields.update(overrides)
        fields["timeout"] = float(fields["timeout"])
        return SmtpConfig(**fields)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        async def serve() -> None:
            ssl_context = self.certs.server_context() if self.mode == "tls" and self.certs else None
            factory = _Silent if self.mode == "silent" else self._factory
            self._server = await loop.create_server(
                factory, self.host, self._port, ssl=ssl_context, reuse_address=True
            )
            self._port = self._server.sockets[0].getsockname()[1]

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"smtp-test-{self.mode}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join()
            self._thread = None
            loop.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listener and drop every open connection: the server goes away."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for transport in list(self._live):
                transport.abort()
            self._live.clear()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
        thread.join(10)
        loop.close()
        self._loop = self._thread = self._server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SmtpTestServer:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Received]:
        return iter(self.messages)

    # --- internals ---------------------------------------------------------------------------

    def _record_auth(self, attempt: AuthAttempt) -> None:
        with self._lock:
            self._auth_attempts.append(attempt)

    def _authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode(errors="replace")
        ok = self.users.get(login) == data.password.decode(errors="replace")
        self._record_auth(AuthAttempt(mechanism, login, ok))
        if ok:
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def _factory(self) -> SMTP:
        assert self._loop is not None
        tls = self.certs.server_context() if self.mode == "starttls" and self.certs else None
        smtp = _TestSMTP(
            self.handler,
            owner=self,
            loop=self._loop,
            hostname="mailbell-test.local",
            tls_context=tls,
            require_starttls=self.require_starttls,
            authenticator=self._authenticator,
            auth_require_tls=self.mode == "starttls",
            auth_exclude_mechanism=self._excluded,
            enable_SMTPUTF8=True,
        )
        with self._lock:
            self._connections += 1
        original = smtp.connection_made

        def connection_made(transport: asyncio.BaseTransport) -> None:
            if smtp.transport is None:  # the first call, not the one after STARTTLS
                self._live.add(transport)
            original(transport)

        smtp.connection_made = connection_made  # type: ignore[method-assign]
        return smtp
