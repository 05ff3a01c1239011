"""Socket Mode (SLACK_APP_TOKEN): no public URL; Slack sends requests over a WebSocket."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.context import Context

log = logging.getLogger("slackbot")


async def run_socket_mode(ctx: Context, stop: asyncio.Event) -> None:
    """Connect, serve until `stop` is set, then disconnect and close the HTTP session."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from core.errors import NotConfigured
    from slackbot.app import close_app, create_app

    token = ctx.settings.slack_app_token
    if not token:
        raise NotConfigured("Socket Mode needs SLACK_APP_TOKEN")
    app = create_app(ctx)
    handler = AsyncSocketModeHandler(app, token)
    try:
        await handler.connect_async()
        log.info("slack: socket mode connected")
        await stop.wait()
    finally:
        await handler.close_async()
        await close_app(app)
