"""Placeholder while this listener is written."""

from __future__ import annotations

from typing import Any

from slackbot.listeners.commands.base import Command

COMMANDS: dict[str, Command] = {}


def register(app: Any, ctx: Any, runner: Any, database: Any) -> None:
    return None
