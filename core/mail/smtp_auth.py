"""SMTP authentication: exactly one AUTH attempt a connection, and the guard that limits how
often a saved server's credentials are tried (core/mail/auth_guard.py).

Mechanisms: `AUTO` picks the first of PLAIN, LOGIN, CRAM-MD5 the server offers; `XOAUTH2` uses
the token provider, and a cached token the server refuses is dropped and one fresh token tried.
A refusal is a `PermanentError` naming the mechanism and the user, never the password.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiosmtplib import SMTP
from aiosmtplib import errors as smtp_errors

from core.errors import DeliveryError, PermanentError
from core.mail.smtp_errors import SmtpReply, error_for_reply

if TYPE_CHECKING:
    from core.mail.smtp_connection import SmtpConfig

log = logging.getLogger("mailbell.smtp")

AUTO_MECHANISMS = ("plain", "login", "cram-md5")


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
        ticket = own = await take_ticket(config)
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


async def take_ticket(config: SmtpConfig) -> AuthTicket:
    """The guard's permission for one AUTH attempt with the config's credentials."""
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
