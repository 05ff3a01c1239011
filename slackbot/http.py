"""HTTP mode: `mount(web_app, ctx)` adds `POST /slack/events` to an aiohttp application.

Every request passes a guard before bolt sees it:
- `X-Slack-Request-Timestamp` must be ASCII digits within five minutes of now, and
  `X-Slack-Signature` `v0=` and 64 lowercase hex digits, matching the HMAC v0 of
  `v0:{timestamp}:{body}`; anything else is 401 with no listener run. (bolt alone parses the
  timestamp with `int()`: `abc`, empty or `1e10` raised inside bolt, logged a traceback and
  answered 200 "something went wrong"; a non-ASCII signature made `hmac.compare_digest` raise.)
- A verified request is remembered in the database for the window (`core.services.
  slack_replay`); the same request again, to this process or another on the same database,
  is 401. A retry from Slack (`X-Slack-Retry-Num`) is a new request with its own timestamp,
  so its own signature: it passes. A byte-identical copy cannot be told from a replay and is
  refused (its original was run).
- When the database stays locked, the request is not run: a slash command gets an ephemeral
  "busy, try again", anything else 503 with `Retry-After`.
Bolt then verifies the signature again (harmless) and dispatches. Socket Mode requests are not
signed and never come here.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from aiohttp import web
from sqlalchemy.exc import OperationalError

from core.errors import StorageError

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.signature import SignatureVerifier

    from core.context import Context

SLACK_EVENTS_PATH = "/slack/events"
SLACK_APP_KEY: web.AppKey[AsyncApp] = web.AppKey("mailbell_slack_app")
REQUEST_WINDOW_S = 300
BUSY_RETRY_AFTER_S = 2
BUSY_TEXT = "mailbell is busy right now: try again in a few seconds."

_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=([0-9a-f]{64})", re.ASCII)

log = logging.getLogger("slackbot")


def _refused(reason: str) -> web.Response:
    # The reason goes to the log, never the request's headers or body (Slack shows nothing).
    log.info("slack: request refused (%s)", reason)
    return web.json_response({"error": "invalid request"}, status=401)


def _busy(body: bytes, exc: Exception) -> web.Response:
    """A slash command shows its answer to the user; other requests are retried by Slack."""
    log.warning("slack: database busy or unavailable (%s), request not run", type(exc).__name__)
    form = parse_qs(body.decode("utf-8", "replace"))
    if "command" in form:
        return web.json_response({"response_type": "ephemeral", "text": BUSY_TEXT})
    return web.json_response(
        {"error": "busy"}, status=503, headers={"Retry-After": str(BUSY_RETRY_AFTER_S)}
    )


def verified_signature(
    verifier: SignatureVerifier, body: bytes, timestamp: str | None, signature: str | None
) -> tuple[str, int] | str:
    """(signature hex, timestamp) of a well-formed, fresh, correctly signed request, else
    the reason it is refused."""
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        return "malformed timestamp"
    match = _SIGNATURE.fullmatch(signature or "")
    if match is None:
        return "malformed signature"
    sent_at = int(timestamp)
    if abs(time.time() - sent_at) > REQUEST_WINDOW_S:
        return "stale timestamp"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if not verifier.is_valid(text, timestamp, signature):
        return "bad signature"
    return match.group(1), sent_at


def mount(web_app: web.Application, ctx: Context, *, path: str = SLACK_EVENTS_PATH) -> AsyncApp:
    """Create the bolt app, route `path` to it, and close its HTTP session on cleanup."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_sdk.signature import SignatureVerifier

    from core.errors import NotConfigured
    from core.services.slack_replay import SeenSlackRequests
    from slackbot.app import close_app, create_app
    from slackbot.replay_batch import ReplayBatcher

    if not ctx.settings.slack_signing_secret:
        raise NotConfigured("HTTP mode needs SLACK_SIGNING_SECRET")
    bolt = create_app(ctx)
    verifier = SignatureVerifier(ctx.settings.slack_signing_secret)
    seen = ReplayBatcher(SeenSlackRequests(ctx.engine))

    async def slack_events(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        verdict = verified_signature(
            verifier,
            body,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"),
        )
        if isinstance(verdict, str):
            return _refused(verdict)
        signature, sent_at = verdict
        try:
            fresh = await seen.remember(signature, sent_at)
        except (OperationalError, StorageError) as exc:
            return _busy(body, exc)
        if not fresh:
            return _refused("replayed request")
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def cleanup(_app: web.Application) -> None:
        await close_app(bolt)

    web_app.router.add_post(path, slack_events)
    web_app.on_cleanup.append(cleanup)
    web_app[SLACK_APP_KEY] = bolt
    return bolt
