"""The event buttons of `/mailbell status`: same authorization as `enable`/`disable`; the
status message is redrawn in place (chat.update, or response_url for an ephemeral message) and
the change announced in the channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core.catalog import EVENTS
from core.context import Context
from core.services.slack import channel_ref, set_events
from core.services.slack_admins import is_authorized, record_refusal, slack_actor
from slackbot.blocks.status import TOGGLE_ACTION_PREFIX
from slackbot.listeners.commands.router import NOT_LINKED
from slackbot.listeners.commands.status import status_view
from slackbot.listeners.followup import Followup, FollowupRunner
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase
from slackbot.text import mention

log = logging.getLogger("slackbot")


@dataclass
class Outcome:
    error: str | None = None
    update: dict[str, Any] | None = None
    announce: str | None = None


def _event_of(field: str) -> str:
    for event in EVENTS.values():
        if event.toggle == field and event.scope == "tenant":
            return event.name
    return field  # resolve_events refuses it with the valid list


def toggle(ctx: Context, body: dict[str, Any], action: dict[str, Any]) -> Outcome:
    """Authorize, switch the event, and draw the new status, in one session."""
    user_id = (body.get("user") or {}).get("id", "")
    team_id = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
    channel_id = (body.get("channel") or {}).get("id", "")
    field = str(action.get("action_id", "")).removeprefix(TOGGLE_ACTION_PREFIX)
    enabled = action.get("value") == "on"
    actor = slack_actor(user_id, team_id)
    with ctx.session() as session:
        channel = channel_ref(session=session, team_id=team_id, channel_id=channel_id)
        tenant = channel.attach(session)[1] if channel else None
        if not is_authorized(
            session=session,
            admin_ids=ctx.settings.slack_admin_ids,
            user_id=user_id,
            team_id=team_id,
            tenant=tenant,
        ):
            slug = tenant.slug if tenant else None
            record_refusal(
                session=session, actor=actor, tenant_slug=slug, command=f"toggle {field}"
            )
            return Outcome(
                error=":no_entry: You may not change this tenant's events. Nothing was changed."
            )
        if channel is None or tenant is None:
            return Outcome(error=f":link: {NOT_LINKED}")
        changed = set_events(
            session=session,
            box=ctx.box,
            tenant=tenant,
            names=[_event_of(field)],
            enabled=enabled,
            actor=actor,
        )
        view = status_view(
            session,
            tenant_id=channel.tenant_id,
            tenant_slug=channel.tenant_slug,
            link_id=channel.link_id,
        )
    message = body.get("message") or {}
    container = body.get("container") or {}
    ephemeral = container.get("is_ephemeral", True) or not message.get("ts")
    update = {"text": view["text"], "blocks": view.get("blocks")}
    if not ephemeral:
        update |= {"channel": channel_id, "ts": message["ts"]}
    verb = "enabled" if enabled else "disabled"
    announce = f"{mention(user_id)} {verb} {', '.join(changed)}" if changed else None
    return Outcome(update=update, announce=announce)


class ToggleListener:
    """The toggle buttons; `toggle` runs off the event loop (see `slackbot.listeners.offloop`)."""

    def __init__(self, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
        self.ctx = ctx
        self.runner = runner
        self.database = database

    async def handle(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        try:
            outcome = await self.database.run(toggle, body, action)
        except DatabaseBusy as busy:
            log.warning("slack: database busy, toggle not run (%s)", busy)
            outcome = Outcome(error=BUSY_TEXT)
        await ack()
        followup = Followup(
            channel=(body.get("channel") or {}).get("id"),
            update=outcome.update,
            announce=outcome.announce,
            error=outcome.error,
        )
        self.runner.start(followup, client=client, respond=respond)
