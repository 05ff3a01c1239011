"""Listeners, grouped by kind and registered explicitly by `register(app, ctx)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from core.context import Context
    from slackbot.listeners.followup import FollowupRunner


def register(app: AsyncApp, ctx: Context) -> FollowupRunner:
    """Register every listener; returns the runner of their after-ack work (drain it on close)."""
    from slackbot.listeners import actions, commands, events, views
    from slackbot.listeners.followup import FollowupRunner
    from slackbot.listeners.offloop import ListenerDatabase

    database = ListenerDatabase(ctx)  # the listeners' database threads, closed with the runner
    runner = FollowupRunner(ctx, on_close=database.close)
    commands.register(app, ctx, runner, database)
    actions.register(app, ctx, runner, database)
    events.register(app, ctx, runner, database)
    views.register(app, ctx, runner, database)
    return runner
