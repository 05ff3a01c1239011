"""The Slack channel: `chat.postMessage` (and `chat.update` for an edit) through one shared
aiohttp session, errors classified.

Core must not import slack_sdk, so this posts with a plain `aiohttp.ClientSession` (one per
channel object, opened on first use, so connections are reused). Outcomes:

- `ok: true` → sent, the reply records the message `ts`;
- HTTP 429 (or `ok: false, error: ratelimited`) → `SlackRateLimited`, a `RetryableError` whose
  `retry_after` (from `Retry-After`) the worker uses as the delay; the Slack channel is also held
  back by the pacer until then, so the rest of a burst waits instead of hammering;
- `ok: false` with a configuration error (`channel_not_found`, `not_in_channel`,
  `invalid_auth`, …) → `PermanentError` naming the error; transient ones (`internal_error`,
  `fatal_error`, …), HTTP 5xx, timeouts and connection errors → `RetryableError`.

Pacing: `reserve_slot(channel_id, max_wait)` hands out send slots about one per second per
Slack channel (Slack's rate for chat.postMessage); the worker sleeps for a slot or, when the
next free slot is further off, puts the delivery back in the queue (bursts are queued, never
dropped). The bot token is sent in a header only: it appears in no error, log or reply.

An edit (`delivery.edit_ref`, the posted message's ts, set by core/pipeline/alert_edits.py) is
sent with `chat.update` and classified the same way: `message_not_found`, `cant_update_message`
and the like are permanent, 429 and transient errors retried. Its result says nothing new about
the channel's health and is not kept.

Each post's result is kept on the channel's links (`last_post_at`, `last_post_error`: None or
Slack's error code) for the health watch (core/health/checks/slack.py): one UPDATE when the
result changes, else at most one a minute per channel and process, off the event loop. Transient
errors (RETRYABLE_ERRORS, HTTP 5xx, timeouts) say nothing about the channel and are not kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.engine import Engine

from core.channels.base import Channel, ChannelResult, ClaimedDelivery
from core.context import Context
from core.errors import PermanentError, RetryableError
from core.models._common import utcnow
from core.models.slack import SlackChannelLink
from core.vocabulary import Channel as VocabularyChannel

log = logging.getLogger(__name__)

RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 3600.0
# An unchanged post result is written again at most this often (last_post_at's precision).
POST_RESULT_REFRESH_S = 60.0


class SlackRateLimited(RetryableError):
    """Slack said 429: try again after `retry_after` seconds (the worker honours it)."""

    retry_after: float

    def __init__(self, message: str, *, retry_after: float, reply: str | None = None) -> None:
        super().__init__(message, step="slack", code=429, reply=reply, retry_after=retry_after)


class ChannelPacer:
    """Send slots per key (a Slack channel), `interval_s` apart; `interval_s` 0 disables it.

    `reserve(key, max_wait)` takes the next free slot and returns how long to wait for it, or,
    when that slot is more than `max_wait` away, takes nothing and returns minus the wait.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._next: dict[str, float] = {}

    def reserve(self, key: str, max_wait: float) -> float:
        now = self.clock()
        slot = max(now, self._next.get(key, now))
        wait = slot - now
        if wait > max_wait:
            return -wait
        if self.interval_s > 0 or wait > 0:
            self._next[key] = slot + self.interval_s
        return wait

    def hold(self, key: str, seconds: float) -> None:
        """No slot for `key` before `seconds` from now (a 429's Retry-After)."""
        self._next[key] = max(self._next.get(key, 0.0), self.clock() + seconds)
        if len(self._next) > 10_000:  # forget channels idle for a while
            now = self.clock()
            self._next = {k: t for k, t in self._next.items() if t > now}


class PostResults:
    """The last post result of each Slack channel, written to its links: at once when it differs
    from what this process last wrote, else once `refresh_s` has passed. Another process may
    have written in between: its result stands at most `refresh_s` longer."""

    def __init__(
        self,
        engine: Engine,
        *,
        refresh_s: float = POST_RESULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.refresh_s = refresh_s
        self.clock = clock
        self._written: dict[str, tuple[str | None, float]] = {}

    def claim(self, channel_id: str, error: str | None) -> bool:
        """True when this result must be written (and remembered as written)."""
        now = self.clock()
        last = self._written.get(channel_id)
        if last is not None and last[0] == error and now - last[1] < self.refresh_s:
            return False
        if len(self._written) > 10_000:  # forget channels idle for a while
            self._written = {k: v for k, v in self._written.items() if now - v[1] < self.refresh_s}
        self._written[channel_id] = (error, now)
        return True

    def forget(self, channel_id: str) -> None:
        self._written.pop(channel_id, None)

    def write(self, channel_id: str, error: str | None, at: datetime) -> None:
        links = SlackChannelLink.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            connection.execute(
                update(links)
                .where(links.c.channel_id == channel_id)
                .values(last_post_at=at, last_post_error=error)
            )

    async def record(self, channel_id: str, error: str | None) -> None:
        """Keep the result; a database that refuses it never fails the post itself."""
        if not self.claim(channel_id, error):
            return
        kept = error[:100] if error else None  # the column's width
        try:
            await asyncio.to_thread(self.write, channel_id, kept, utcnow())
        except Exception as exc:
            self.forget(channel_id)
            log.warning("slack: post result of %s not recorded: %s", channel_id, type(exc).__name__)


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def classify(
    error: str, *, retry_after: float | None = None, method: str = "chat.postMessage"
) -> Exception:
    """The exception for an `ok: false` answer of `method`: retryable for the errors in
    RETRYABLE_ERRORS, permanent for any other."""
    message = f"{method}: {error}"
    if error in ("ratelimited", "rate_limited"):
        return SlackRateLimited(
            message, retry_after=retry_after or DEFAULT_RETRY_AFTER_S, reply=error
        )
    if error in RETRYABLE_ERRORS:
        return RetryableError(message, step="slack", reply=error)
    return PermanentError(message, step="slack", reply=error)


class SlackChannel(Channel):
    name = VocabularyChannel.SLACK
    threads_bursts = True  # the pipeline threads a burst of one event under its first alert

    def __init__(
        self,
        ctx: Context,
        *,
        pace_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.ctx = ctx
        self.timeout_s = timeout_s
        self.pacer = ChannelPacer(pace_interval_s)
        self._api = ctx.settings.slack_api_url.rstrip("/") + "/"
        self._session = session
        self._own_session = session is None
        self.results = PostResults(ctx.engine)

    def reserve_slot(self, target: str, max_wait: float) -> float:
        """Called by the worker before `send` (see `ChannelPacer.reserve`)."""
        return self.pacer.reserve(target, max_wait)

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=64),
            )
            self._own_session = True
        return self._session

    def _headers(self) -> dict[str, str]:
        token = self.ctx.settings.slack_bot_token
        if not token:
            raise PermanentError("Slack is not configured (SLACK_BOT_TOKEN)", step="slack")
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
        }

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        channel_id = delivery.target
        message = self.ctx.box.decrypt_bytes(delivery.content)
        if message[:1] != b"{":
            raise PermanentError("the stored Slack message is not a JSON object", step="render")
        # The stored message is JSON already: put the channel in front instead of re-encoding.
        rest = message[1:].lstrip()
        separator = b"" if rest.startswith(b"}") else b", "
        head = {"channel": channel_id}
        edit = delivery.edit_ref
        if edit is not None:
            head["ts"] = edit
        elif delivery.thread_under is not None:
            head["thread_ts"] = delivery.thread_under
        body = json.dumps(head).encode()[:-1] + separator + rest
        method = "chat.postMessage" if edit is None else "chat.update"
        data = await self._call(method, channel_id, body)
        if not data.get("ok"):
            error = str(data.get("error") or "unknown_error")
            exc = classify(error, method=method)
            if isinstance(exc, SlackRateLimited):
                self.pacer.hold(channel_id, exc.retry_after)
            if isinstance(exc, PermanentError) and edit is None:
                await self.results.record(channel_id, error)
            raise exc
        if edit is not None:
            return ChannelResult(
                accepted=[channel_id], reply=f"ok updated ts={edit}", message_ref=edit
            )
        await self.results.record(channel_id, None)
        ts = str(data.get("ts") or "")
        return ChannelResult(accepted=[channel_id], reply=f"ok ts={ts}", message_ref=ts or None)

    async def _call(self, method: str, channel_id: str, body: bytes) -> dict[str, Any]:
        url = self._api + method
        try:
            async with self._http().post(url, data=body, headers=self._headers()) as resp:
                if resp.status == 429:
                    wait = _retry_after(resp.headers.get("Retry-After"))
                    self.pacer.hold(channel_id, wait)
                    raise SlackRateLimited(
                        f"{method}: HTTP 429, retry after {wait:g} s",
                        retry_after=wait,
                        reply="429 ratelimited",
                    )
                if resp.status >= 500:
                    raise RetryableError(
                        f"{method}: HTTP {resp.status}", step="slack", code=resp.status
                    )
                if resp.status != 200:
                    raise PermanentError(
                        f"{method}: HTTP {resp.status}", step="slack", code=resp.status
                    )
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            raise RetryableError(f"{method}: {reason}", step="connect") from None
        except ValueError:
            raise RetryableError(f"{method}: the answer is not JSON", step="slack") from None
        if not isinstance(data, dict):
            raise RetryableError(f"{method}: unexpected answer", step="slack")
        return data

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
