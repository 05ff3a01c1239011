"""OAuth 2.0 access tokens for XOAUTH2 SMTP (Google, Microsoft 365).

Sending: `provider_for_server(server, settings=…, box=…, store=…)` gives an
`OAuthTokenProvider`, the `token_provider` of a `SmtpConfig`. It returns the cached access
token until shortly before it expires, then (under an asyncio.Lock, so one refresh for many
senders) asks the token endpoint again:
- `refresh_token` grant when the server holds a refresh token (Google, Microsoft delegated);
- `client_credentials` grant for Microsoft 365 app-only (client secret + directory id, scope
  https://outlook.office365.com/.default) when there is no refresh token.
New access tokens and rotated refresh tokens go to the `TokenStore` (encrypted on the
MailServer row by `ServerTokenStore`). A failed refresh raises RetryableError(step="oauth")
with the reason (the delivery is retried, not lost) and records it on the server
(last_test_ok=false, last_test_message "OAuth: …").

A refusal that waiting cannot cure (`invalid_grant`, `unauthorized_client`, consent or
interaction required, and Microsoft's AADSTS codes for an expired or revoked grant) is
`AuthorizationRevoked` (permanent): the server is marked revoked (core.mail.oauth_server,
committed at once) and, from then on, its provider refuses without asking the token endpoint,
until the server is authorized again (new tokens clear the mark).

Authorizing from a terminal (consent URL, pasted redirect, code exchange) is in
`core.mail.oauth_authorize`. Token and consent URLs come from Settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from core.errors import AuthorizationRevoked, RetryableError, ValidationError
from core.mail.oauth_server import ServerTokenStore, is_revocation, revoked_message
from core.vocabulary import OAUTH_PROVIDERS

if TYPE_CHECKING:
    from core.config import Settings
    from core.context import Context
    from core.crypto import SecretBox
    from core.models.mail import MailServer

log = logging.getLogger("mailbell.oauth")

GOOGLE_SCOPE = "https://mail.google.com/"
MICROSOFT_SCOPE = "https://outlook.office365.com/SMTP.Send offline_access"
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"
EXPIRY_MARGIN_S = 60.0
# Grants that use a standing authorization; an authorization code's refusal is the admin's
# attempt failing, not the server losing its authorization.
STANDING_GRANTS = ("refresh_token", "client_credentials")


@dataclass(frozen=True)
class OAuthClient:
    """An app registration at Google or Microsoft, and where its endpoints are."""

    provider: str
    client_id: str
    client_secret: str | None = field(repr=False)
    directory_id: str | None
    token_url: str
    auth_url: str
    redirect_uri: str

    @classmethod
    def from_server(cls, server: MailServer, *, settings: Settings, box: SecretBox) -> OAuthClient:
        if server.provider not in OAUTH_PROVIDERS:
            raise ValidationError(
                "provider",
                f"OAuth 2.0 needs provider GMAIL or MS365; mail server {server.id} is "
                f"{server.provider}",
            )
        if not server.oauth_client_id:
            raise ValidationError(
                "oauth_client_id", f"is not set on mail server {server.id}: add the app's client id"
            )
        secret = (
            box.decrypt(server.oauth_client_secret_enc) if server.oauth_client_secret_enc else None
        )
        if server.provider == "GMAIL":
            token_url, auth_url = settings.oauth_google_token_url, settings.oauth_google_auth_url
        else:
            tenant = server.oauth_directory_id or "common"
            token_url = settings.oauth_microsoft_token_url.format(tenant=tenant)
            auth_url = settings.oauth_microsoft_auth_url.format(tenant=tenant)
        return cls(
            provider=server.provider,
            client_id=server.oauth_client_id,
            client_secret=secret,
            directory_id=server.oauth_directory_id,
            token_url=token_url,
            auth_url=auth_url,
            redirect_uri=settings.oauth_redirect_uri,
        )

    @property
    def scope(self) -> str:
        return GOOGLE_SCOPE if self.provider == "GMAIL" else MICROSOFT_SCOPE

    def scrub(self, text: str) -> str:
        if self.client_secret:
            text = text.replace(self.client_secret, "***")
        return text


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    expires_at: datetime
    refresh_token: str | None = field(default=None, repr=False)  # set when one was issued


class TokenStore(Protocol):
    def save(self, tokens: TokenSet) -> None: ...

    def record_failure(self, reason: str) -> None: ...

    def record_revoked(self, detail: str) -> None: ...


async def request_token(client: OAuthClient, form: dict[str, str], *, timeout: float) -> TokenSet:
    """POST a grant to the token endpoint; RetryableError(step="oauth") on any failure."""
    import aiohttp

    grant = form.get("grant_type", "token")
    host = urlsplit(client.token_url).netloc or client.token_url
    body = {"client_id": client.client_id, **form}
    if client.client_secret:
        body["client_secret"] = client.client_secret
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.post(client.token_url, data=body, headers={"Accept": "application/json"}) as reply,
        ):
            status = reply.status
            try:
                data: Any = await reply.json(content_type=None)
            except ValueError:
                data = {}
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise RetryableError(
            f"OAuth token endpoint {host} unreachable: {client.scrub(reason)}", step="oauth"
        ) from None
    if not isinstance(data, dict):
        data = {}
    if status >= 400 or "access_token" not in data:
        error = str(data.get("error") or f"HTTP {status}")
        description = str(data.get("error_description") or "").splitlines()[0:1]
        detail = f"{error}: {description[0][:300]}" if description else error
        for secret in (form.get("refresh_token"), form.get("code")):
            if secret:
                detail = detail.replace(secret, "***")
        if grant in STANDING_GRANTS and is_revocation(error, description[0] if description else ""):
            detail = client.scrub(detail)
            raise AuthorizationRevoked(revoked_message(detail, None), step="oauth", reply=detail)
        hint = ""
        if error in ("invalid_grant", "interaction_required", "consent_required"):
            hint = " (authorize again: mailbell oauth authorize --server ID)"
        elif error in ("invalid_client", "unauthorized_client"):
            hint = " (check the client id and client secret)"
        raise RetryableError(
            f"OAuth {grant} request to {host} refused: {client.scrub(detail)}{hint}",
            step="oauth",
            reply=client.scrub(detail),
        )
    try:
        lifetime = float(data.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    return TokenSet(
        access_token=str(data["access_token"]),
        expires_at=datetime.fromtimestamp(time.time() + lifetime, UTC),
        refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
    )


class OAuthTokenProvider:
    """Async callable returning a valid access token (the XOAUTH2 `token_provider`)."""

    def __init__(
        self,
        client: OAuthClient | None,
        *,
        refresh_token: str | None = None,
        access_token: str | None = None,
        expires_at: datetime | None = None,
        store: TokenStore | None = None,
        timeout: float = 30.0,
        margin: float = EXPIRY_MARGIN_S,
        clock: Callable[[], float] = time.time,
        problem: str | None = None,
        server_id: int | None = None,
        revoked: str | None = None,
    ) -> None:
        self.client = client
        self._refresh_token = refresh_token
        self._access_token = access_token
        self._expires = expires_at.timestamp() if expires_at else 0.0
        self.store = store
        self.timeout = timeout
        self.margin = margin
        self.clock = clock
        self.problem = problem
        self.server_id = server_id
        # The reason the authorization is gone: set, every call fails without asking anyone.
        self.revoked = revoked
        self.refreshes = 0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:  # never the tokens
        return f"OAuthTokenProvider(grant={self.grant!r})"

    @property
    def grant(self) -> str | None:
        if self.client is None:
            return None
        if self._refresh_token:
            return "refresh_token"
        if (
            self.client.provider == "MS365"
            and self.client.client_secret
            and self.client.directory_id
        ):
            return "client_credentials"
        return None

    def _valid(self) -> bool:
        return bool(self._access_token) and self.clock() < self._expires - self.margin

    def invalidate(self) -> None:
        """Forget the access token (the server refused it); the next call fetches one."""
        self._access_token = None
        self._expires = 0.0

    async def __call__(self) -> str:
        if self.revoked is not None:
            raise AuthorizationRevoked(self.revoked, step="oauth")
        if self._valid():
            return self._access_token  # type: ignore[return-value]
        async with self._lock:
            if not self._valid():
                await self._refresh()
        return self._access_token  # type: ignore[return-value]

    async def _refresh(self) -> None:
        if self.revoked is not None:  # found out by another sender while this one waited
            raise AuthorizationRevoked(self.revoked, step="oauth")
        client, grant = self.client, self.grant
        try:
            if client is None or grant is None:
                raise RetryableError(
                    self.problem
                    or "the mail server is not authorized: run `mailbell oauth authorize "
                    "--server ID` (or, for Microsoft 365 app-only, set the client secret "
                    "and directory id)",
                    step="oauth",
                )
            if grant == "refresh_token":
                assert self._refresh_token is not None
                form = {"grant_type": grant, "refresh_token": self._refresh_token}
                if client.provider == "MS365":
                    form["scope"] = MICROSOFT_SCOPE
            else:
                form = {"grant_type": grant, "scope": MICROSOFT_APP_SCOPE}
            tokens = await request_token(client, form, timeout=self.timeout)
        except AuthorizationRevoked as exc:
            detail = exc.reply or exc.message
            reason = revoked_message(detail, self.server_id)
            log.warning("OAuth authorization of mail server %s revoked: %s", self.server_id, reason)
            self.revoked = reason
            self._access_token = None
            await self._persist("record_revoked", detail)
            raise AuthorizationRevoked(reason, step="oauth", reply=exc.reply) from None
        except RetryableError as exc:
            log.warning("OAuth token refresh failed: %s", exc.message)
            await self._persist("record_failure", exc.message)
            raise
        self.refreshes += 1
        self._access_token = tokens.access_token
        self._expires = tokens.expires_at.timestamp()
        if tokens.refresh_token:
            self._refresh_token = tokens.refresh_token
        await self._persist("save", tokens)

    async def _persist(self, method: str, argument: Any) -> None:
        if self.store is None:
            return
        try:
            await asyncio.to_thread(getattr(self.store, method), argument)
        except Exception as exc:  # storing must not turn a good token into a failed send
            log.error("cannot store OAuth state for the mail server: %s", type(exc).__name__)


def provider_for_server(
    server: MailServer,
    *,
    settings: Settings,
    box: SecretBox,
    store: TokenStore | None = None,
    clock: Callable[[], float] = time.time,
    retry_revoked: bool = False,
) -> OAuthTokenProvider:
    """The token provider for a saved server; configuration problems surface on first use.

    A server marked revoked gets a provider that refuses without asking, unless
    `retry_revoked` (an admin's explicit test: the grant may have been restored at the
    provider; new tokens clear the mark)."""
    try:
        client: OAuthClient | None = OAuthClient.from_server(server, settings=settings, box=box)
        problem = None
    except ValidationError as exc:
        client, problem = None, f"OAuth is not configured: {exc}"
    decrypt = box.decrypt
    return OAuthTokenProvider(
        client,
        refresh_token=decrypt(server.oauth_refresh_token_enc)
        if server.oauth_refresh_token_enc
        else None,
        access_token=decrypt(server.oauth_access_token_enc)
        if server.oauth_access_token_enc
        else None,
        expires_at=server.oauth_token_expires_at,
        store=store,
        timeout=float(server.timeout),
        clock=clock,
        problem=problem,
        server_id=server.id,
        revoked=revoked_message(server.auth_revoked_reason or "refused", server.id)
        if server.auth_revoked_at is not None and not retry_revoked
        else None,
    )


def token_provider_for(
    ctx: Context, server: MailServer, *, retry_revoked: bool = False
) -> OAuthTokenProvider:
    """The provider of a saved server, storing refreshed tokens and failures on its row."""
    store = ServerTokenStore(ctx.session, ctx.box, server.id) if server.id is not None else None
    return provider_for_server(
        server, settings=ctx.settings, box=ctx.box, store=store, retry_revoked=retry_revoked
    )
