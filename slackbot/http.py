"""HTTP mode: `mount(web_app, ctx)` adds `POST /slack/events` to an aiohttp application.

Bolt verifies every request's signature (HMAC v0 of `v0:{timestamp}:{body}`) and refuses
requests more than five minutes old with 401 before any listener runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from core.context import Context

SLACK_EVENTS_PATH = "/slack/events"
SLACK_APP_KEY: web.AppKey[AsyncApp] = web.AppKey("mailbell_slack_app")


def mount(web_app: web.Application, ctx: Context, *, path: str = SLACK_EVENTS_PATH) -> AsyncApp:
    """Create the bolt app, route `path` to it, and close its HTTP session on cleanup."""
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

    from core.errors import NotConfigured
    from slackbot.app import close_app, create_app

    if not ctx.settings.slack_signing_secret:
        raise NotConfigured("HTTP mode needs SLACK_SIGNING_SECRET")
    bolt = create_app(ctx)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def cleanup(_app: web.Application) -> None:
        await close_app(bolt)

    web_app.router.add_post(path, slack_events)
    web_app.on_cleanup.append(cleanup)
    web_app[SLACK_APP_KEY] = bolt
    return bolt
