"""`create_app(ctx)`: the slack-bolt AsyncApp of mailbell. Nothing is built at import time.

- `process_before_response=True`: the ack is the HTTP answer, sent when the listener returns
  (bolt's default polls for `ack()` every 10 ms); announcements and slow work run after it
  (`slackbot.listeners.followup`).
- The Web API client talks to `MAILBELL_SLACK_API_URL` through one shared aiohttp session
  (opened on first use inside the running loop, closed by `close_app`), and retries 429s after
  `Retry-After` (`AsyncRateLimitErrorRetryHandler`).
- Signature verification (HMAC v0, 5-minute window) is on whenever a signing secret is set;
  Socket Mode alone may run without one.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from core.errors import NotConfigured

if TYPE_CHECKING:
    from core.context import Context
    from slackbot.listeners.followup import FollowupRunner

log = logging.getLogger("slackbot")
RATE_LIMIT_RETRIES = 2
_RUNNERS: weakref.WeakKeyDictionary[AsyncApp, FollowupRunner] = weakref.WeakKeyDictionary()
CLIENT_TIMEOUT_S = 10


class SharedSessionWebClient(AsyncWebClient):
    """An AsyncWebClient that opens one aiohttp session on first use and keeps it.

    Without `session=`, slack_sdk opens a connection per call (LIBRARY-NOTES: one shared
    session gave 2.8x the throughput). The session is created lazily so that `create_app` may
    run before the event loop does.
    """

    owns_session = False

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict[str, Any]) -> Any:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=64),
            )
            self.owns_session = True
        return await super()._request(http_verb=http_verb, api_url=api_url, req_args=req_args)

    async def close(self) -> None:
        if self.owns_session and self.session is not None and not self.session.closed:
            await self.session.close()
        self.session = None
        self.owns_session = False


def _base_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def create_client(ctx: Context, *, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    settings = ctx.settings
    client = SharedSessionWebClient(
        token=settings.slack_bot_token,
        base_url=_base_url(settings.slack_api_url),
        session=session,
        timeout=CLIENT_TIMEOUT_S,
        logger=log,
    )
    client.retry_handlers.append(
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)
    )
    return client


def create_app(ctx: Context, *, session: aiohttp.ClientSession | None = None) -> AsyncApp:
    """The bolt app with every listener and the error handler registered.

    Needs SLACK_BOT_TOKEN, and SLACK_SIGNING_SECRET unless only Socket Mode is used
    (SLACK_APP_TOKEN); `session` shares an existing aiohttp session instead of opening one.
    """
    settings = ctx.settings
    if not settings.slack_bot_token:
        raise NotConfigured("Slack is off: set SLACK_BOT_TOKEN (and SLACK_SIGNING_SECRET)")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise NotConfigured("set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
    app = AsyncApp(
        client=create_client(ctx, session=session),
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=bool(settings.slack_signing_secret),
        process_before_response=True,
        logger=log,
    )
    from slackbot import errors, listeners

    errors.register(app)
    _RUNNERS[app] = listeners.register(app, ctx)
    return app


async def close_app(app: AsyncApp) -> None:
    """Let follow-ups finish, then close the shared HTTP session the app's client opened."""
    runner = _RUNNERS.get(app)
    if runner is not None:
        await runner.drain()
    client = app.client
    if isinstance(client, SharedSessionWebClient):
        await client.close()
