"""The `/mailbell` router: parse, authorize, dispatch to the subcommand, acknowledge.

Order of checks: `help` (and anything unknown, answered with help) is open to all; `link` and
`unlink` need a system admin; every other subcommand needs a linked channel and a system admin
or an admin of the channel's tenant. A refusal is audited and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from core.context import Context
from core.services.slack import channel_ref
from core.services.slack_admins import is_system_admin, is_tenant_admin, record_refusal, slack_actor
from slackbot.blocks.help import help_message
from slackbot.listeners.commands.base import Command, CommandRequest, Reply
from slackbot.listeners.followup import Followup, FollowupRunner
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase
from slackbot.text import words

log = logging.getLogger("slackbot")

NOT_LINKED = (
    "This channel is not linked to a tenant yet. A system admin can link it with "
    "`/mailbell link TENANT`."
)


def _refusal(name: str, tenant: str | None, linked: bool) -> str:
    if not linked:
        return (
            f":no_entry: You may not run `/mailbell {name}` here: this channel is not linked to a "
            "tenant, and only system admins can link it. Nothing was changed."
        )
    if tenant is None:
        return f":no_entry: Only system admins may run `/mailbell {name}`. Nothing was changed."
    return (
        f":no_entry: You may not run `/mailbell {name}` in this channel: only system admins and "
        f"Slack admins of tenant {tenant} may. Nothing was changed."
    )


def dispatch(ctx: Context, commands: dict[str, Command], body: dict[str, Any]) -> Reply:
    """Everything between the request and the ack, in one database session."""
    command = body.get("command") or "/mailbell"
    parts = words(body.get("text", ""))
    name = parts[0].lower() if parts else "help"
    spec = commands.get(name)
    if spec is None or spec.open_to_all:
        message = help_message(command, unknown=None if spec else parts[0])
        return Reply.of(message)
    user_id, team_id = body.get("user_id", ""), body.get("team_id", "")
    channel_id = body.get("channel_id", "")
    actor = slack_actor(user_id, team_id)
    with ctx.session() as session:
        channel = channel_ref(session=session, team_id=team_id, channel_id=channel_id)
        slug = channel.tenant_slug if channel else None
        system_admin = is_system_admin(
            session=session,
            admin_ids=ctx.settings.slack_admin_ids,
            user_id=user_id,
            team_id=team_id,
        )
        allowed = system_admin or (
            not spec.system_only
            and channel is not None
            and is_tenant_admin(
                session=session, tenant_id=channel.tenant_id, user_id=user_id, team_id=team_id
            )
        )
        if not allowed:
            where = f"{command} {name}"
            record_refusal(session=session, actor=actor, tenant_slug=slug, command=where)
            linked = channel is not None or spec.system_only
            return Reply(text=_refusal(name, slug if not spec.system_only else None, linked))
        if spec.needs_link and channel is None:
            return Reply(text=f":link: {NOT_LINKED}")
        if not system_admin:  # a tenant's admin holds that tenant's rights only: fenced
            actor = replace(actor, tenant_scoped=True)
        request = CommandRequest(
            ctx=ctx,
            session=session,
            command=command,
            name=name,
            args=parts[1:],
            user_id=user_id,
            team_id=team_id,
            channel_id=channel_id,
            actor=actor,
            system_admin=system_admin,
            channel=channel,
        )
        return spec.handler(request)


class CommandListener:
    """The `/mailbell` listener: dispatch (off the event loop), acknowledge, then start the
    follow-up (if any).

    `dispatch` runs on the listeners' database threads (`slackbot.listeners.offloop`): a
    subcommand is a few indexed queries, but a database locked by another process would
    otherwise hold the event loop (and with it `/healthz`, the API and the worker) for the
    whole lock wait. A locked database is answered "busy, try again", with nothing changed.
    """

    def __init__(
        self,
        ctx: Context,
        commands: dict[str, Command],
        runner: FollowupRunner,
        database: ListenerDatabase,
    ) -> None:
        self.ctx = ctx
        self.commands = commands
        self.runner = runner
        self.database = database

    async def handle(self, ack: Any, body: dict[str, Any], client: Any, respond: Any) -> None:
        try:
            reply = await self.database.run(dispatch, self.commands, body)
        except DatabaseBusy as busy:
            log.warning("slack: database busy, command not run (%s)", busy)
            await ack(response_type="ephemeral", text=BUSY_TEXT)
            return
        if reply.text or reply.blocks:
            await ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks)
        else:
            await ack()
        followup = Followup(
            channel=body.get("channel_id"),
            announce=reply.announce,
            work=reply.work,
            open_view=(str(body.get("trigger_id") or ""), reply.modal) if reply.modal else None,
        )
        self.runner.start(followup, client=client, respond=respond)
