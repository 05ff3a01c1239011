"""`/mailbell help`: open to everyone (the router also answers unknown subcommands with it)."""

from __future__ import annotations

from slackbot.blocks.help import help_message
from slackbot.listeners.commands.base import Command, CommandRequest, Reply


def help_(request: CommandRequest) -> Reply:
    return Reply.of(help_message(request.command))


COMMANDS = {"help": Command(help_, open_to_all=True, needs_link=False)}
