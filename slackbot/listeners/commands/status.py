"""`/mailbell status`: health, server (no secrets), recipients, event toggles with buttons, queue
depth, last failures. `status_view` is shared with the toggle buttons, which redraw it in place.
A system admin in a channel not linked to a tenant sees the system's health."""

from __future__ import annotations

from sqlmodel import Session

from core.catalog import EVENTS
from core.models.slack import ALL_EVENTS, SlackChannelLink
from core.services.slack import list_routes, short_name, toggled_tenant_events
from core.services.slack_inbox import channel_inbox_routes
from core.services.slack_status import health_lines, tenant_overview
from slackbot.blocks.common import Message
from slackbot.blocks.health import system_status_message
from slackbot.blocks.status import Toggle, status_message
from slackbot.listeners.commands.base import Command, CommandRequest, Reply


def routed_names(session: Session, link: SlackChannelLink) -> list[str]:
    routes = list_routes(session=session, link=link)
    return [r if r == ALL_EVENTS else short_name(EVENTS[r]) for r in routes]


def status_view(session: Session, *, tenant_id: int, tenant_slug: str, link_id: int) -> Message:
    overview = tenant_overview(
        session=session, tenant_id=tenant_id, tenant_slug=tenant_slug, link_id=link_id
    )
    toggles = [
        Toggle(short_name(event), event.toggle, bool(overview.settings[event.toggle]))
        for event in toggled_tenant_events()
        if event.toggle
    ]
    recipients = [a for a in overview.settings["recipients"].split(",") if a]
    return status_message(
        tenant=tenant_slug,
        server=overview.server,
        server_source=overview.server_source,
        server_note=overview.server_note,
        recipients=recipients,
        toggles=toggles,
        routes=[r if r == ALL_EVENTS else short_name(EVENTS[r]) for r in overview.routes],
        queued=overview.queued,
        failures=overview.failures,
        inbox=channel_inbox_routes(session, link_id),
        health=health_lines(session=session, tenant_id=tenant_id),
    )


def status(request: CommandRequest) -> Reply:
    channel = request.channel
    if channel is None:  # the router lets only system admins through unlinked channels
        return Reply.of(
            system_status_message(health_lines(session=request.session, tenant_id=None))
        )
    view = status_view(
        request.session,
        tenant_id=channel.tenant_id,
        tenant_slug=channel.tenant_slug,
        link_id=channel.link_id,
    )
    return Reply.of(view)


COMMANDS = {"status": Command(status, needs_link=False)}
