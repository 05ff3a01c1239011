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
A config with a `proxy` (SOCKS5 or HTTP CONNECT) connects through it (core/mail/proxy.py, which
fences the proxy and the SMTP host for a fenced config); the rest runs over the tunnel.
Auth (core/mail/smtp_auth.py): `DISABLE`; `PLAIN`, `LOGIN`; `AUTO` (one mechanism the server
offers, PLAIN before LOGIN before CRAM-MD5); `XOAUTH2` with a token from `token_provider`.
Exactly one AUTH attempt per connection: a wrong password is never sent twice (aiosmtplib's
`login()` loop is not used), except for a cached OAuth token the server refuses.
A config with an `auth_guard` (core/mail/auth_guard.py: saved servers) also obeys the refusal
limit across connections: no more than two refused AUTH an hour for the same credentials;
past it, `open_connection` raises `CredentialsPaused` before connecting.

Errors (classified in core/mail/smtp_errors.py) are `RetryableError` (4xx, timeouts,
connection errors) or `PermanentError` (5xx, authentication refused, certificate not trusted,
STARTTLS required but not offered) with
`step`, `code` and `reply` set; their messages never contain the password or a token.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiosmtplib import SMTP
from aiosmtplib import errors as smtp_errors

from core import netfence
from core.errors import PermanentError, RetryableError
from core.mail.proxy import open_tunnel
from core.mail.smtp_auth import AuthGuard, authenticate, take_ticket
from core.mail.smtp_errors import classify
from core.vocabulary import AuthMode, SecurityMode

if TYPE_CHECKING:
    from core.crypto import SecretBox
    from core.mail.proxy_url import ProxyUrl
    from core.models.mail import MailServer

log = logging.getLogger("mailbell.smtp")

TokenProvider = Callable[[], Awaitable[str]]


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
    proxy: ProxyUrl | None = field(default=None, repr=False)  # with its password
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
            proxy=proxy_of(server, box),
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
        """`text` with the passwords removed (server replies may echo what they were sent)."""
        for secret in (self.password, self.proxy and self.proxy.password):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


def proxy_of(server: MailServer, box: SecretBox) -> ProxyUrl | None:
    """The server's proxy with its password decrypted, or None."""
    from core.mail.proxy_url import parse_proxy

    if not server.proxy_url:
        return None
    proxy = parse_proxy("proxy", server.proxy_url)
    if server.proxy_password_enc:
        proxy = proxy.with_password(box.decrypt(server.proxy_password_enc))
    return proxy


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
    sock = None
    if config.proxy is not None:
        sock = await open_tunnel(config)
    elif config.fenced:
        sock = await fenced_socket(config)
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
            ticket = await take_ticket(config)
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
