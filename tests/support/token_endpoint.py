"""A local OAuth 2.0 token endpoint (aiohttp, own thread) standing in for Google and Microsoft.

    with TokenEndpoint(clients={"cid": "csecret"}) as endpoint:
        endpoint.token_url                  # http://127.0.0.1:PORT/token (Google style)
        endpoint.microsoft_token_url        # http://127.0.0.1:PORT/{tenant}/oauth2/v2.0/token
        endpoint.auth_url                   # consent page URL (never fetched; see `authorize`)
        endpoint.settings_overrides()       # Settings(...) keyword overrides for all four URLs
        endpoint.add_refresh_token("rt-1")  # a refresh token it accepts
        SmtpTestServer(xoauth2=endpoint.verify)   # the SMTP side checks issued tokens

Grants: `refresh_token` (needs a known refresh token; `rotate=True` issues a new one and
revokes the old), `client_credentials`, `authorization_code` (codes come from
`authorize(consent_url)`, which plays the user's browser: it checks the request and returns
the redirect URL with `code` and `state`; PKCE S256 is verified at the exchange).
`expires_in` sets token lifetime; `fail_with(status, error, description, times=1)` makes the
next requests fail; `requests` lists every form received; `issued` the access tokens issued.
`verify(user, token)` is true for an issued, unexpired, unrevoked token (and, when
`expected_user` is set, the right user).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import web

__all__ = ["TokenEndpoint"]


class TokenEndpoint:
    __test__ = False

    def __init__(
        self,
        *,
        clients: dict[str, str | None] | None = None,
        expires_in: int = 3600,
        rotate: bool = False,
        expected_user: str | None = None,
    ) -> None:
        self.clients = dict(clients if clients is not None else {"client-id": "client-secret"})
        self.expires_in = expires_in
        self.rotate = rotate
        self.expected_user = expected_user
        self.requests: list[dict[str, str]] = []
        self.issued: list[str] = []
        self.tenants: list[str] = []
        self._lock = threading.Lock()
        self._refresh_tokens: set[str] = set()
        self._access: dict[str, float] = {}
        self._codes: dict[str, dict[str, str]] = {}
        self._failures: list[tuple[int, str, str]] = []
        self._counter = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- URLs ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/auth"

    @property
    def microsoft_token_url(self) -> str:
        return self.base_url + "/{tenant}/oauth2/v2.0/token"

    @property
    def microsoft_auth_url(self) -> str:
        return self.base_url + "/{tenant}/oauth2/v2.0/authorize"

    def settings_overrides(self) -> dict[str, str]:
        return {
            "oauth_google_token_url": self.token_url,
            "oauth_google_auth_url": self.auth_url,
            "oauth_microsoft_token_url": self.microsoft_token_url,
            "oauth_microsoft_auth_url": self.microsoft_auth_url,
        }

    def environment(self) -> dict[str, str]:
        """The same as MAILBELL_* environment variables (for CLI runs)."""
        return {f"MAILBELL_{k.upper()}": v for k, v in self.settings_overrides().items()}

    # --- state tests control ------------------------------------------------------------------

    def add_refresh_token(self, token: str) -> None:
        with self._lock:
            self._refresh_tokens.add(token)

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = dict.fromkeys(self._access, 0.0)

    def fail_with(self, status: int, error: str, description: str = "", times: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, error, description)] * times)

    def verify(self, user: str, token: str) -> bool:
        with self._lock:
            expires = self._access.get(token)
        if expires is None or expires <= time.time():
            return False
        return self.expected_user is None or user == self.expected_user

    def authorize(self, consent_url: str, *, deny: bool = False) -> str:
        """Play the browser: accept the consent URL, return the redirect URL the user pastes."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
        for name in ("client_id", "redirect_uri", "state", "code_challenge", "scope"):
            assert name in query, f"consent URL lacks {name}"
        assert query["client_id"] in self.clients
        assert query.get("code_challenge_method") == "S256"
        if deny:
            params = {
                "error": "access_denied",
                "error_description": "The user declined",
                "state": query["state"],
            }
            return f"{query['redirect_uri']}?{urlencode(params)}"
        code = f"code-{next(self._counter)}"
        with self._lock:
            self._codes[code] = query
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> TokenEndpoint:
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/token", self._token)
            app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await site.start()
            self.port = self._runner.addresses[0][1]

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="token-endpoint", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> TokenEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the endpoint -------------------------------------------------------------------------

    def _error(self, status: int, error: str, description: str = "") -> web.Response:
        body: dict[str, Any] = {"error": error}
        if description:
            body["error_description"] = description
        return web.json_response(body, status=status)

    def _issue(self, *, refresh: bool) -> dict[str, Any]:
        number = next(self._counter)
        access = f"at-{number}"
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        with self._lock:
            self._access[access] = time.time() + self.expires_in
            self.issued.append(access)
            if refresh:
                token = f"rt-{number}"
                self._refresh_tokens.add(token)
                body["refresh_token"] = token
        return body

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        with self._lock:
            self.requests.append(form)
            if "tenant" in request.match_info:
                self.tenants.append(request.match_info["tenant"])
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return self._error(*failure)
        client = form.get("client_id", "")
        if client not in self.clients or self.clients[client] not in (
            None,
            form.get("client_secret"),
        ):
            return self._error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            with self._lock:
                known = token in self._refresh_tokens
                if known and self.rotate:
                    self._refresh_tokens.discard(token)
            if not known:
                return self._error(400, "invalid_grant", "Token has been expired or revoked.")
            return web.json_response(self._issue(refresh=self.rotate))
        if grant == "client_credentials":
            if not form.get("scope", "").endswith("/.default"):
                return self._error(400, "invalid_scope", "Scope must end in /.default.")
            return web.json_response(self._issue(refresh=False))
        if grant == "authorization_code":
            with self._lock:
                query = self._codes.pop(form.get("code", ""), None)
            if query is None:
                return self._error(400, "invalid_grant", "Malformed auth code.")
            verifier = form.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
            if challenge.rstrip(b"=").decode() != query["code_challenge"]:
                return self._error(400, "invalid_grant", "PKCE verification failed.")
            if form.get("redirect_uri") != query["redirect_uri"]:
                return self._error(400, "invalid_grant", "redirect_uri mismatch.")
            return web.json_response(self._issue(refresh=True))
        return self._error(400, "unsupported_grant_type")
