"""Modals: each module opens its modal from a `/mailbell` subcommand (its `COMMANDS`), answers
its buttons, and validates and saves its `view_submission`; registered explicitly."""

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
    from slackbot.listeners.views import server, settings

    settings.register(app, ctx, runner, database)
    server.register(app, ctx, runner, database)
