"""OAuth 2.0 authorization code, from a terminal over SSH (no local browser needed).

`build_authorization_request(client)` gives the consent URL (a fresh `state` and a PKCE S256
challenge); the admin opens it in any browser, signs in and accepts; the browser is sent to the
redirect URI (the page may not load — no matter), and the admin pastes that address back.
`parse_redirect` checks the state and extracts the code (clear errors for a refusal, a wrong
state or a missing code); `exchange_code` trades the code (with the PKCE verifier) for tokens,
and `core.mail.oauth_server.store_tokens` keeps them, encrypted, on the server.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from core.errors import RetryableError, ValidationError
from core.mail.oauth import MICROSOFT_SCOPE, OAuthClient, TokenSet, request_token

__all__ = [
    "AuthorizationRequest",
    "build_authorization_request",
    "exchange_code",
    "parse_redirect",
]


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str = field(repr=False)
    redirect_uri: str = ""


def build_authorization_request(
    client: OAuthClient, *, login_hint: str | None = None
) -> AuthorizationRequest:
    """The consent URL to open in any browser, with a fresh state and PKCE challenge."""
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "response_type": "code",
        "scope": client.scope,
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    if client.provider == "GMAIL":
        params.update(access_type="offline", prompt="consent")
    else:
        params["response_mode"] = "query"
    if login_hint:
        params["login_hint"] = login_hint
    separator = "&" if "?" in client.auth_url else "?"
    return AuthorizationRequest(
        url=f"{client.auth_url}{separator}{urlencode(params)}",
        state=state,
        code_verifier=verifier,
        redirect_uri=client.redirect_uri,
    )


def parse_redirect(pasted: str, *, expected_state: str) -> str:
    """The authorization code from the pasted redirect URL; refuses errors and a wrong state."""
    text = pasted.strip()
    if not text:
        raise ValidationError(
            "redirect_url", "is empty: paste the whole address from the browser's address bar"
        )
    parts = urlsplit(text)
    query = parts.query or parts.fragment
    if not query and "=" in text:
        query = text.lstrip("?")
    params = {key: values[0] for key, values in parse_qs(query).items()}
    if not params:
        raise ValidationError(
            "redirect_url",
            "does not look like the redirect address (it has no ?code=…&state=…): "
            "paste the whole address the browser was sent to",
        )
    if "error" in params:
        description = params.get("error_description", "").splitlines()[0:1]
        detail = f"{params['error']}: {description[0][:300]}" if description else params["error"]
        raise ValidationError("redirect_url", f"the provider refused the authorization ({detail})")
    if params.get("state") != expected_state:
        raise ValidationError(
            "redirect_url",
            "state does not match this authorization request: paste the address from the "
            "consent URL printed above (a stale or foreign redirect is refused)",
        )
    code = params.get("code")
    if not code:
        raise ValidationError("redirect_url", "has no code parameter")
    return code


async def exchange_code(
    client: OAuthClient, request: AuthorizationRequest, code: str, *, timeout: float = 30.0
) -> TokenSet:
    """Trade the authorization code for tokens; a refresh token is required."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.code_verifier,
    }
    if client.provider == "MS365":
        form["scope"] = MICROSOFT_SCOPE
    tokens = await request_token(client, form, timeout=timeout)
    if not tokens.refresh_token:
        raise RetryableError(
            "the provider returned no refresh token: revoke the app's access in the account's "
            "security settings and authorize again (offline access must be granted)",
            step="oauth",
        )
    return tokens
