"""Slack health: the bot token (`slack:token`, a system subject) and each routed channel
(`slack:link:ID`, a subject of the link's tenant).

- The token: `auth.test`. Refused (invalid_auth, account_inactive, token_revoked, not_authed,
  token_expired) → critical; Slack unreachable or answering anything else → warning.
- A channel: the result of the last post into it (recorded on the link by the Slack channel,
  core/channels/slack/channel.py). not_in_channel, channel_not_found, is_archived and a refused
  token → critical; another refusal → warning. A channel whose last post failed, or that has
  had none yet, is also asked about with `conversations.info` (is the bot a member, is it
  archived): inviting the bot then clears the state without waiting for the next alert. An
  answer that says nothing (no `channels:read` scope, rate limit) leaves the last post's result.

Only when SLACK_BOT_TOKEN is set: without it Slack is off and there is nothing to watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import exists, or_, select

from core.context import Context
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models.slack import SlackChannelLink, SlackInboxRoute, SlackRoute
from core.vocabulary import HealthKind, HealthState

TOKEN_KEY = "slack:token"
LINK_PREFIX = "slack:link:"
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "account_inactive", "token_revoked", "not_authed", "token_expired"}
)
TOKEN_ACTION = (
    "put a valid bot token in SLACK_BOT_TOKEN (the Slack app's OAuth & Permissions page; "
    "reinstall the app if it was removed) and restart mailbell"
)
# What each channel-level error means, and what to do about it.
LINK_ERRORS: dict[str, tuple[str, str]] = {
    "not_in_channel": (
        "the bot is not a member of the channel",
        "invite the bot: /invite @mailbell in #{channel}",
    ),
    "channel_not_found": (
        "the channel is gone, or private without the bot",
        "invite the bot into #{channel} if it is private; if it was deleted, "
        "unlink it (mailbell slack unlink) and route the events to another channel",
    ),
    "is_archived": (
        "the channel is archived",
        "unarchive #{channel}, or route the events to another channel (/mailbell route)",
    ),
} | {
    # Not the tenant's to fix: the channel's admins learn whom to ask.
    code: (
        "Slack refuses the bot token",
        "ask mailbell's operator to put a valid bot token in SLACK_BOT_TOKEN (see slack:token)",
    )
    for code in TOKEN_REFUSED
}
# conversations.info for at most this many channels a pass, a few at a time (Slack's tier 3).
PROBES_PER_PASS = 50
PROBE_CONCURRENCY = 4


class Unreachable(Exception):
    """No usable answer from the Slack API (network, HTTP error, not JSON)."""


@dataclass(frozen=True)
class WatchedLink:
    id: int
    tenant_id: int
    channel_id: str
    last_post_at: datetime | None
    last_post_error: str | None

    @property
    def needs_probe(self) -> bool:
        return self.last_post_error is not None or self.last_post_at is None


class SlackApi:
    """Form-encoded Web API calls with the bot token in a header (never in an error)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/") + "/"
        self.token = token

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    async def call(self, method: str, **params: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.http.post(self.base_url + method, data=params, headers=headers) as r:
                if r.status == 429:
                    return {"ok": False, "error": "ratelimited"}
                if r.status != 200:
                    raise Unreachable(f"HTTP {r.status}")
                data = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            raise Unreachable(reason or type(exc).__name__) from None
        except ValueError:
            raise Unreachable("the answer is not JSON") from None
        if not isinstance(data, dict):
            raise Unreachable("unexpected answer")
        return data


def _watched_links(ctx: Context, scope: CheckScope) -> list[WatchedLink]:
    """Links that carry routes (events or mail) or were posted to, within the scope."""
    if scope.system:
        return []  # every link belongs to a tenant
    link = SlackChannelLink.__table__  # type: ignore[attr-defined]
    route = SlackRoute.__table__  # type: ignore[attr-defined]
    inbox = SlackInboxRoute.__table__  # type: ignore[attr-defined]
    query = select(
        link.c.id, link.c.tenant_id, link.c.channel_id, link.c.last_post_at, link.c.last_post_error
    ).where(
        or_(
            exists().where(route.c.link_id == link.c.id),
            exists().where(inbox.c.link_id == link.c.id),
            link.c.last_post_at.is_not(None),
        )
    )
    if scope.tenant_id is not None:
        query = query.where(link.c.tenant_id == scope.tenant_id)
    with ctx.engine.connect() as connection:
        rows = connection.execute(query.order_by(link.c.id)).all()
    return [WatchedLink(*row) for row in rows]


async def token_result(api: SlackApi) -> CheckResult:
    def result(state: HealthState, reason: str, **detail: Any) -> CheckResult:
        return CheckResult(TOKEN_KEY, HealthKind.SLACK, None, "bot token", state, reason, detail)

    try:
        data = await api.call("auth.test")
    except Unreachable as exc:
        return result(
            HealthState.WARNING,
            f"the Slack API ({api.host}) is unreachable: {exc}",
            action="check the network path to MAILBELL_SLACK_API_URL",
        )
    if data.get("ok"):
        team, user = str(data.get("team") or "?"), str(data.get("user") or "?")
        return result(
            HealthState.OK,
            f"the bot token works (workspace {team}, bot @{user})",
            team_id=str(data.get("team_id") or ""),
        )
    error = str(data.get("error") or "unknown_error")
    if error in TOKEN_REFUSED:
        return result(
            HealthState.CRITICAL,
            f"Slack refuses the bot token: {error}",
            action=TOKEN_ACTION,
            error=error,
        )
    return result(
        HealthState.WARNING,
        f"auth.test answered {error}",
        action="try again later; if it lasts, check Slack's status page",
        error=error,
    )


async def probe(api: SlackApi, channel_id: str) -> str | None:
    """What conversations.info says about the bot and the channel: "ok", an error code, or None
    when the answer says nothing (missing scope, rate limit, network)."""
    try:
        data = await api.call("conversations.info", channel=channel_id)
    except Unreachable:
        return None
    if not data.get("ok"):
        error = str(data.get("error") or "")
        return error if error in LINK_ERRORS else None
    channel = data.get("channel")
    if not isinstance(channel, dict):
        return None
    if channel.get("is_archived"):
        return "is_archived"
    if channel.get("is_member") is False:
        return "not_in_channel"
    return "ok" if channel.get("is_member") is True else None


def link_result(link: WatchedLink, probed: str | None = None) -> CheckResult:
    """The channel's state from the last post's result and, when asked, conversations.info."""
    channel = link.channel_id
    detail: dict[str, Any] = {"channel_id": channel, "link_id": link.id}
    if link.last_post_at is not None:
        detail["last_post_at"] = link.last_post_at.isoformat()
    if link.last_post_error:
        detail["last_post_error"] = link.last_post_error

    def result(state: HealthState, reason: str) -> CheckResult:
        key = f"{LINK_PREFIX}{link.id}"
        return CheckResult(
            key, HealthKind.SLACK, link.tenant_id, f"#{channel}", state, reason, detail
        )

    error = probed if probed in LINK_ERRORS else link.last_post_error
    if probed == "ok":
        if link.last_post_error:
            return result(
                HealthState.OK,
                f"the bot is in the channel (the last post failed: {link.last_post_error}; "
                "the next one should go through)",
            )
        return result(HealthState.OK, "the bot is in the channel")
    if error in LINK_ERRORS:
        meaning, action = LINK_ERRORS[error]
        detail["action"] = action.format(channel=channel)
        source = "Slack reports" if probed == error else "posts fail"
        return result(HealthState.CRITICAL, f"{source}: {error} ({meaning})")
    if error:
        detail["action"] = f"see Slack's documentation of chat.postMessage for {error}"
        return result(HealthState.WARNING, f"the last post was refused: {error}")
    if link.last_post_at is None:
        return result(HealthState.OK, "nothing posted here yet")
    return result(HealthState.OK, "the last post went through")


async def _probe_all(api: SlackApi, links: Sequence[WatchedLink]) -> dict[int, str | None]:
    gate = asyncio.Semaphore(PROBE_CONCURRENCY)
    chosen = sorted(links, key=lambda link: link.last_post_error is None)[:PROBES_PER_PASS]

    async def one(link: WatchedLink) -> tuple[int, str | None]:
        async with gate:
            return link.id, await probe(api, link.channel_id)

    return dict(await asyncio.gather(*(one(link) for link in chosen)))


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    token = ctx.settings.slack_bot_token
    if not token:
        return []
    links = await asyncio.to_thread(_watched_links, ctx, scope)
    timeout = aiohttp.ClientTimeout(total=ctx.settings.health_check_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        api = SlackApi(http, ctx.settings.slack_api_url, token)
        results: list[CheckResult] = []
        if scope.everything or scope.system:
            results.append(await token_result(api))
        probed = await _probe_all(api, [link for link in links if link.needs_probe])
    results += [link_result(link, probed.get(link.id)) for link in links]
    return results
