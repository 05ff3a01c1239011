"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1, each in its own thread and event loop.

Usable from sync and async tests alike (start/stop block for a few milliseconds only):

    with SmtpTestServer() as srv:                                   # plain, no AUTH
        srv.port, srv.host, srv.messages, srv.connections
    SmtpTestServer(mode="starttls")                                 # STARTTLS offered
    SmtpTestServer(mode="starttls", require_starttls=True)          # 530 before STARTTLS
    SmtpTestServer(mode="tls", certs=certs)                         # implicit TLS, given certs
    SmtpTestServer(mode="silent")                                   # accepts, never greets
    SmtpTestServer(auth=True, users={"user": "secret"})             # AUTH PLAIN and LOGIN
    SmtpTestServer(auth=True, auth_mechanisms=("LOGIN",))           # advertise LOGIN only
    SmtpTestServer(xoauth2=endpoint.verify)                         # AUTH XOAUTH2 (token check)
    SmtpTestServer(auth=True, auth_failure_reply="535 5.7.139 …")   # how a refusal reads
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
- `handler.wait_for(n, timeout)` blocks until n messages arrived (sync tests); `handler.clear()`.
- AUTH accepts `DEFAULT_USERS` (`user@example.com` / `correct-horse`) unless `users=` is given;
  failures answer `535 5.7.8` (or `auth_failure_reply`) and each attempt is counted.
- `certs`: the `TestCerts` in use (without `certs=`, one test CA per process,
  `default_certs()`); clients trust it through `ca_file` (set by `server_fields`).

`FaultHandler(mail=…, rcpt={addr: reply}, data=…, stall=seconds, stall_at="data",
times=None)` answers the given replies ("421 …", "451 …", "550 …", "554 …") at MAIL, RCPT
(per address) or DATA, or sleeps `stall` seconds before answering at `stall_at`; `times=N`
makes the fault happen on the first N transactions only. A 421 reply also closes the
connection, as real servers do. Handlers and counters survive `stop()`/`start()`.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.certs import TestCerts, make_test_certs
from tests.support.smtp_handlers import AuthAttempt, CaptureHandler, FaultHandler, Received

__all__ = [
    "AuthAttempt",
    "CaptureHandler",
    "FaultHandler",
    "Received",
    "SmtpTestServer",
]

DEFAULT_USERS = {"user@example.com": "correct-horse"}

_default_certs: list[TestCerts] = []


def default_certs() -> TestCerts:
    """One test CA and server certificate per process (for servers made without `certs=`)."""
    if not _default_certs:
        directory = Path(tempfile.mkdtemp(prefix="mailbell-test-ca-"))
        atexit.register(shutil.rmtree, directory, True)
        _default_certs.append(make_test_certs(directory))
    return _default_certs[0]


# aiosmtpd logs a deprecation warning on every successful AUTH (its own login_data use).
logging.getLogger("mail.log").setLevel(logging.ERROR)


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
        auth_failure_reply: str | None = None,
        require_starttls: bool = False,
        hide_starttls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if mode not in ("plain", "starttls", "tls", "silent"):
            raise ValueError(f"unknown mode {mode!r}")
        if mode in ("starttls", "tls") and certs is None:
            certs = default_certs()
        self.mode = mode
        self.handler = handler if handler is not None else CaptureHandler()
        self.certs = certs
        self.auth = auth or xoauth2 is not None
        self.users = dict(users if users is not None else DEFAULT_USERS)
        self.xoauth2 = xoauth2
        self.auth_failure_reply = auth_failure_reply
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
        self._live: set[asyncio.Transport] = set()
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
        return AuthResult(success=False, handled=False, message=self.auth_failure_reply)

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
                self._live = {t for t in self._live if not t.is_closing()}
                self._live.add(cast(asyncio.Transport, transport))
            original(transport)

        smtp.connection_made = connection_made  # type: ignore[method-assign]
        return smtp
