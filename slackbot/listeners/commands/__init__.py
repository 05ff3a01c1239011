"""The `/mailbell` slash command: one router, one module per subcommand group."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from core.context import Context
    from slackbot.listeners.followup import FollowupRunner
    from slackbot.listeners.offloop import ListenerDatabase


def register(
    app: AsyncApp, ctx: Context, runner: FollowupRunner, database: ListenerDatabase
) -> None:
    from slackbot.listeners.commands import (
        admins,
        digest,
        events,
        help,
        link,
        locality,
        recipients,
        resend,
        retry,
        routes,
        status,
        test,
        webhook,
    )
    from slackbot.listeners.commands.router import CommandListener
    from slackbot.listeners.views import server as server_modal
    from slackbot.listeners.views import settings as settings_modal

    commands = {
        **help.COMMANDS,
        **status.COMMANDS,
        **events.COMMANDS,
        **digest.COMMANDS,
        **locality.COMMANDS,
        **recipients.COMMANDS,
        **test.COMMANDS,
        **routes.COMMANDS,
        **retry.COMMANDS,
        **resend.COMMANDS,
        **link.COMMANDS,
        **admins.COMMANDS,
        **webhook.COMMANDS,
        **settings_modal.COMMANDS,
        **server_modal.COMMANDS,
    }
    listener = CommandListener(ctx, commands, runner, database)
    # `/mailbell`, and renamed copies such as `/mailbell-staging` (one app per environment).
    app.command(re.compile(r"^/mailbell(?:[-_][a-z0-9]+)?$"))(listener.handle)
