"""Interactive components (block_actions), one module per kind, registered explicitly."""

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
    import re

    from slackbot.blocks.status import TOGGLE_ACTION_PREFIX
    from slackbot.listeners.actions.toggle import ToggleListener

    listener = ToggleListener(ctx, runner, database)
    pattern = re.compile("^" + re.escape(TOGGLE_ACTION_PREFIX))
    app.action(pattern)(listener.handle)

    from slackbot.listeners.actions.health import CHECK_NOW, MUTE, HealthListener

    health = HealthListener(ctx, runner, database)
    app.action(CHECK_NOW)(health.check_now)
    app.action(MUTE)(health.mute)
