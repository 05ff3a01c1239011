"""After the ack: announce changes in the channel, update messages in place, do slow work.

With `process_before_response=True` the HTTP answer (the ack) leaves only when the listener
returns, so anything slow starts here, as a task, after the listener has acknowledged. This is
what bolt's lazy listeners do in a long-running process (`asyncio.ensure_future`), minus their
deep copy of the whole request for every request, which was the largest single cost of an ack
(about 0.5-0.9 ms): a follow-up is started only when there is something to do, with plain data.

Errors here cannot reach the app's error handler, so they are reported to the user the same
way (`slackbot.errors.report`, through `response_url`) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.context import Context
from slackbot.errors import report

log = logging.getLogger("slackbot")


@dataclass
class Followup:
    channel: str | None = None
    announce: str | None = None  # posted in the channel
    update: dict[str, Any] | None = None  # replaces the clicked message
    error: str | None = None  # told to the user alone
    work: dict[str, Any] | None = None  # slow work (a test email)
    # (trigger_id, view): a modal opened first (a trigger_id is valid for 3 s only)
    open_view: tuple[str, dict[str, Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.announce or self.update or self.error or self.work or self.open_view)


class FollowupRunner:
    """Starts follow-ups as tasks and keeps them referenced until done (drained on close)."""

    def __init__(self, ctx: Context, *, on_close: Callable[[], None] | None = None) -> None:
        self.ctx = ctx
        self._on_close = on_close  # what goes with the follow-ups (the listeners' database)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def add_closer(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Something else of the listeners' to stop first on drain (the Home refresher)."""
        self._closers.append(closer)

    def start(self, followup: Followup, *, client: Any, respond: Any) -> None:
        if not followup:
            return
        task = asyncio.get_running_loop().create_task(self.run(followup, client, respond))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, followup: Followup, client: Any, respond: Any) -> None:
        try:
            if followup.open_view:
                trigger_id, view = followup.open_view
                await client.views_open(trigger_id=trigger_id, view=view)
            if followup.error:
                await respond(
                    text=followup.error, response_type="ephemeral", replace_original=False
                )
            if followup.update:
                await _update(client, respond, followup.update)
            if followup.announce and followup.channel:
                await client.chat_postMessage(
                    channel=followup.channel, text=followup.announce, unfurl_links=False
                )
            if followup.work:
                await _work(self.ctx, followup.work, respond, client)
        except Exception as error:  # reported to the user (and logged)
            await report(error, respond=respond, logger=log)

    async def drain(self, timeout: float = 5.0) -> None:
        """Let running follow-ups finish (a shutdown), cancelling what is left after `timeout`;
        then close what was handed to `on_close`."""
        closers, self._closers = self._closers, []
        for closer in closers:
            await closer()
        if self._tasks:
            await self._wait(timeout)
        if self._on_close is not None:
            await asyncio.to_thread(self._on_close)
            self._on_close = None

    async def _wait(self, timeout: float) -> None:
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _update(client: Any, respond: Any, update: dict[str, Any]) -> None:
    """Replace a message: `chat.update` for a posted message, `response_url` for an ephemeral."""
    if update.get("ts") and update.get("channel"):
        await client.chat_update(
            channel=update["channel"],
            ts=update["ts"],
            text=update["text"],
            blocks=update.get("blocks"),
        )
    else:
        await respond(
            text=update["text"],
            blocks=update.get("blocks"),
            replace_original=True,
            response_type="ephemeral",
        )


# Slow work by kind: "module:function", each `async def f(ctx, work, respond, client)`
# (`respond` is None for a modal's button: it answers with `client.views_update`); imported when
# first run, so that the app starts without them.
WORK: dict[str, str] = {
    "test_email": "slackbot.listeners.commands.test:run_test_email",
    "webhook_test": "slackbot.listeners.commands.webhook:run_webhook_test",
    "health_check": "slackbot.listeners.actions.health_check:run_health_check",
    "modal_test_email": "slackbot.listeners.views.settings:run_modal_test_email",
    "modal_server_test": "slackbot.listeners.views.server_test:run_server_test",
}


async def _work(ctx: Context, work: dict[str, Any], respond: Any, client: Any) -> None:
    import importlib

    where = WORK.get(str(work.get("kind")))
    if where is None:
        raise RuntimeError(f"unknown follow-up work {work.get('kind')!r}")
    module, _, name = where.partition(":")
    run = getattr(importlib.import_module(module), name)
    await run(ctx, work, respond, client)
