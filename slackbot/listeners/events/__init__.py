"""Events API listeners (`event_callback`), one module per surface, registered explicitly."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from core.context import Context
    from slackbot.listeners.followup import FollowupRunner
    from slackbot.listeners.offloop import ListenerDatabase


def register(
    app: AsyncApp, ctx: Context, runner: FollowupRunner, database: ListenerDatabase
) -> None:
    from slackbot.listeners.events import home

    home.register(app, ctx, runner, database)
