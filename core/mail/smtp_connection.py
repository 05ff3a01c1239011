"""One SMTP connection, set up step by step; the config it needs; how failures are classified.

`core.mail.smtp` (the pool) and `core.mail.diagnose` (test connection) build on this module.

Security (`MailServer.security`): `none` plain; `starttls-auto` STARTTLS when the server offers
it; `starttls` STARTTLS required (never plain: refused when not offered); `tls` implicit TLS.
Certificates are checked against the system store (which honours SSL_CERT_FILE) plus the
server's optional `ca_file` (set by system-level actors) and `ca_pem` (PEM text, what tenants
upload); `tls_verify=False` skips the check and logs a warning.
A `fenced` config (a host set by a tenant-scoped actor) resolves its host afresh, checks every
address against MAILBELL_TENANT_SMTP_NETWORKS (core/netfence.py) and connects to an address it
checked, keeping the host name for SNI and certificate verification.
Auth: `DISABLE`; `PLAIN`, `LOGIN`; `AUTO` (one mechanism the server offers, PLAIN before LOGIN
before CRAM-MD5); `XOAUTH2` with a token from `token_provider`. Exactly one AUTH attempt per
connection: a wrong password is never sent twice (aiosmtplib's `login()` loop is not used).
The one exception is XOAUTH2 with a cached token the server refuses (revoked before its
expiry): the token is dropped and one freshly issued token is tried.
A config with an `auth_guard` (core/mail/auth_guard.py: saved servers) also obeys the refusal
limit across connections: no more than two refused AUTH an hour for the same credentials;
past it, `open_connection` raises `CredentialsPaused` before connecting.

Errors are `RetryableError` (4xx, timeouts, connection errors) or `PermanentError` (5xx,
authentication refused, certificate not trusted, STARTTLS required but not offered) with
`step`, `code` and `reply` set; their messages never contain the password or a token.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from aiosmtplib import SMTP
from aiosmtplib import errors as smtp_errors

from core import netfence
from core.errors import DeliveryError, PermanentError, RetryableError
from core.vocabulary import AuthMode, SecurityMode

if TYPE_CHECKING:
    from core.crypto import SecretBox
    from core.models.mail import MailServer

log = logging.getLogger("mailbell.smtp")

AUTO_MECHANISMS = ("plain", "login", "cram-md5")

TokenProvider = Callable[[], Awaitable[str]]


class AuthTicket(Protocol):
    """The right to try the credentials once (core.mail.auth_guard.Ticket)."""

    def failed(self, error: DeliveryError) -> None: ...

    def accepted(self) -> None: ...

    async def close(self) -> None: ...


class AuthGuard(Protocol):
    """Who may try a saved server's credentials, and when (core.mail.auth_guard.AuthGuard)."""

    async def attempt(
        self, *, address: str, username: str | None, timeout: float
    ) -> AuthTicket: ...


class SmtpReply(NamedTuple):
    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.message}".strip()


@dataclass(frozen=True)
class SmtpConfig:
    """Everything needed to reach and log in to one SMTP server (secrets decrypted)."""

    host: str
    port: int
    security: str
    auth: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    tls_verify: bool = True
    ca_file: str | None = None
    ca_pem: str | None = field(default=None, repr=False)
    fenced: bool = False
    token_provider: TokenProvider | None = field(default=None, repr=False, compare=False)
    auth_guard: AuthGuard | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.security not in tuple(SecurityMode):
            raise ValueError(f"security {self.security!r} is not one of {', '.join(SecurityMode)}")
        if self.auth not in tuple(AuthMode):
            raise ValueError(f"auth {self.auth!r} is not one of {', '.join(AuthMode)}")

    @classmethod
    def from_server(
        cls,
        server: MailServer,
        box: SecretBox,
        *,
        token_provider: TokenProvider | None = None,
        auth_guard: AuthGuard | None = None,
    ) -> SmtpConfig:
        """The config of a saved (or unsaved, transient) `MailServer`; decrypts its password."""
        password = None
        if server.password_enc and server.auth not in ("DISABLE", "XOAUTH2"):
            password = box.decrypt(server.password_enc)
        return cls(
            host=server.host,
            port=server.port,
            security=server.security,
            auth=server.auth,
            username=server.username,
            password=password,
            timeout=float(server.timeout),
            tls_verify=server.tls_verify,
            ca_file=server.ca_file or None,
            ca_pem=server.ca_pem or None,
            fenced=server.fenced,
            token_provider=token_provider,
            auth_guard=auth_guard,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def scrub(self, text: str) -> str:
        """`text` with the password removed (server replies may echo what they were sent)."""
        if self.password and len(self.password) >= 3:
            text = text.replace(self.password, "***")
        return text


# --- TLS ------------------------------------------------------------------------------------


def build_tls_context(config: SmtpConfig) -> ssl.SSLContext:
    """System store (SSL_CERT_FILE / SSL_CERT_DIR honoured) plus `ca_file`; or no checks."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if config.ca_file:
        try:
            context.load_verify_locations(cafile=config.ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise PermanentError(
                f"ca_file {config.ca_file!r} cannot be loaded as a PEM bundle: {reason}",
                step="tls",
            ) from None
    if config.ca_pem:
        try:
            context.load_verify_locations(cadata=config.ca_pem)
        except (ssl.SSLError, ValueError) as exc:
            raise PermanentError(
                f"ca_pem cannot be loaded as a PEM bundle: {getattr(exc, 'reason', None) or exc}",
                step="tls",
            ) from None
    if not config.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def warn_unverified(config: SmtpConfig) -> None:
    if not config.tls_verify and config.security != "none":
        log.warning(
            "TLS certificate verification is OFF for mail server %s (tls_verify=false): "
            "the connection is encrypted but the server is not authenticated",
            config.address,
        )


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


# --- error classification ------------------------------------------------------------------

STEP_WORDS = {
    "dns": "resolving the host name",
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


# --- one connection -----------------------------------------------------------------------

_local_hostname: str | None = None


async def local_hostname() -> str:
    """Our EHLO name, looked up once per process (getfqdn may be slow)."""
    global _local_hostname
    if _local_hostname is None:
        name = await asyncio.to_thread(socket.getfqdn)
        ok = name and name.isascii() and not any(ch.isspace() for ch in name)
        _local_hostname = name if ok else "localhost"
    return _local_hostname


async def ehlo(smtp: SMTP) -> None:
    """EHLO, falling back to HELO for a server that does not speak ESMTP."""
    try:
        await smtp.ehlo()
    except smtp_errors.SMTPHeloError as exc:
        if exc.code // 100 != 5 or not smtp.is_connected:
            raise
        await smtp.helo()


def choose_mechanism(config: SmtpConfig, offered: Sequence[str]) -> str:
    """The one AUTH mechanism to try (lower case)."""
    if config.auth == "AUTO":
        for mechanism in AUTO_MECHANISMS:
            if mechanism in offered:
                return mechanism
        raise PermanentError(
            f"{config.address} offers no password mechanism mailbell supports "
            f"(offered: {' '.join(offered).upper() or 'none'}); "
            "choose the auth mode explicitly",
            step="auth",
        )
    return config.auth.lower()


async def _auth_xoauth2(smtp: SMTP, config: SmtpConfig, username: str) -> Any:
    """XOAUTH2 with the provider's token. A cached token the server refuses (revoked early)
    is dropped and one fresh token is tried; a fresh token refused is a real failure."""
    provider = config.token_provider
    if provider is None:
        raise PermanentError(
            "auth is XOAUTH2 but no OAuth token source is configured", step="oauth"
        )
    refreshes = getattr(provider, "refreshes", None)
    token = await provider()
    from_cache = refreshes is not None and getattr(provider, "refreshes", None) == refreshes
    try:
        return await smtp.auth_xoauth2(username, token)
    except smtp_errors.SMTPAuthenticationError:
        invalidate = getattr(provider, "invalidate", None)
        if not callable(invalidate):
            raise
        invalidate()
        if not from_cache or not smtp.is_connected:
            raise
    log.info("cached OAuth token refused by %s: trying a fresh one", config.address)
    return await smtp.auth_xoauth2(username, await provider())


async def authenticate(
    smtp: SMTP, config: SmtpConfig, *, ticket: AuthTicket | None = None
) -> SmtpReply | None:
    """One AUTH attempt with the configured mode; None when auth is DISABLE.

    The attempt's outcome goes to `ticket`, or, without one, to a ticket of the config's guard
    taken here (a test connection's refusal counts too)."""
    if config.auth == "DISABLE":
        return None
    own = None
    if ticket is None and config.auth_guard is not None:
        ticket = own = await _attempt(config)
    try:
        try:
            reply = await _authenticate(smtp, config)
        except DeliveryError as exc:
            if ticket is not None:
                ticket.failed(exc)
            raise
        if ticket is not None:
            ticket.accepted()
        return reply
    finally:
        if own is not None:
            await own.close()


async def _attempt(config: SmtpConfig) -> AuthTicket:
    assert config.auth_guard is not None
    return await config.auth_guard.attempt(
        address=config.address, username=config.username, timeout=config.timeout
    )


async def _authenticate(smtp: SMTP, config: SmtpConfig) -> SmtpReply:
    if not smtp.supports_extension("auth"):
        hint = (
            ""
            if config.security == "tls" or smtp.get_transport_info("sslcontext")
            else "; many servers offer AUTH only over TLS: use security starttls or tls"
        )
        raise PermanentError(
            f"{config.address} does not offer AUTH on this connection{hint}", step="auth"
        )
    mechanism = choose_mechanism(config, smtp.server_auth_methods)
    username = config.username or ""
    try:
        if mechanism == "xoauth2":
            response = await _auth_xoauth2(smtp, config, username)
        else:
            if config.password is None:
                raise PermanentError(
                    f"auth is {config.auth} but no password is stored for this server",
                    step="auth",
                )
            if mechanism == "plain":
                response = await smtp.auth_plain(username, config.password)
            elif mechanism == "login":
                response = await smtp.auth_login(username, config.password)
            elif mechanism == "cram-md5":
                response = await smtp.auth_crammd5(username, config.password)
            else:
                raise PermanentError(f"unsupported auth mechanism {mechanism!r}", step="auth")
    except smtp_errors.SMTPAuthenticationError as exc:
        raise error_for_reply(
            exc.code,
            exc.message,
            step="auth",
            config=config,
            what=f"authentication ({mechanism.upper()}) as {username!r}",
        ) from None
    return SmtpReply(response.code, response.message)


async def fenced_socket(config: SmtpConfig) -> socket.socket:
    """A TCP connection to an address of `config.host` that the tenant fence allows, resolved
    now (not from a cache: DNS may have changed since the host was saved)."""
    fence = netfence.current_fence()
    try:
        addresses = await netfence.resolve(config.host, use_cache=False)
    except netfence.ResolveFailed:
        raise RetryableError(
            f"cannot resolve {config.host!r} within {netfence.RESOLVE_TIMEOUT_S:g} s", step="dns"
        ) from None
    if not all(fence.allows(address) for address in addresses):
        raise PermanentError(netfence.refusal("server", config.host, fence).message, step="connect")
    loop = asyncio.get_running_loop()
    last: BaseException = TimeoutError()
    for address in addresses[:4]:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(
                loop.sock_connect(sock, (str(address), config.port)), config.timeout
            )
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise classify(last, step="connect", config=config)


async def open_connection(config: SmtpConfig, *, tls_context: ssl.SSLContext | None = None) -> SMTP:
    """Connect, EHLO, STARTTLS as the security mode says, AUTH once: ready for MAIL FROM."""
    if tls_context is None and config.security != "none":
        tls_context = build_tls_context(config)
    sock = await fenced_socket(config) if config.fenced else None
    smtp = SMTP(
        hostname=config.host,  # with `sock`: only the name for SNI and certificate checks
        port=None if sock is not None else config.port,
        sock=sock,
        timeout=config.timeout,
        use_tls=config.security == "tls",
        start_tls=False,
        tls_context=tls_context,
        local_hostname=await local_hostname(),
    )
    step = "connect"
    ticket = None
    try:
        if config.auth_guard is not None and config.auth != "DISABLE":
            step = "auth"  # held back before connecting: the credentials are paused
            ticket = await _attempt(config)
            step = "connect"
        await smtp.connect()
        step = "ehlo"
        await ehlo(smtp)
        if config.security in ("starttls", "starttls-auto"):
            if smtp.supports_extension("starttls"):
                step = "starttls"
                await smtp.starttls()
                step = "ehlo"
                await ehlo(smtp)
            elif config.security == "starttls":
                raise PermanentError(
                    f"{config.address} does not offer STARTTLS and security is 'starttls' "
                    "(required): nothing was sent in plain text",
                    step="starttls",
                )
            else:
                log.warning(
                    "%s does not offer STARTTLS: continuing in plain text (starttls-auto)",
                    config.address,
                )
        step = "auth"
        await authenticate(smtp, config, ticket=ticket)
    except BaseException as exc:
        smtp.close()
        if isinstance(exc, Exception):
            raise classify(exc, step=step, config=config) from exc
        raise
    finally:
        if ticket is not None:
            await ticket.close()
    return smtp


async def reset(smtp: SMTP, config: SmtpConfig) -> None:
    """RSET after a refused transaction; a connection that does not answer is closed."""
    if not smtp.is_connected:
        return
    try:
        await smtp.rset(timeout=min(config.timeout, 5.0))
    except Exception:
        smtp.close()


async def quit_quietly(smtp: SMTP) -> None:
    try:
        if smtp.is_connected:
            await smtp.quit(timeout=2.0)
    except Exception:
        pass
    finally:
        smtp.close()
