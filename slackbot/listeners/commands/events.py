"""`/mailbell events`, `enable EVENT…`, `disable EVENT…` (several at once, all or nothing)."""

from __future__ import annotations

from core.catalog import EVENTS
from core.models.slack import ALL_EVENTS
from core.services.notifications import get_notification_settings
from core.services.slack import list_routes, set_events, short_name
from slackbot.blocks.events import EventRow, events_message
from slackbot.listeners.commands.base import Command, CommandRequest, Reply


def events(request: CommandRequest) -> Reply:
    link, tenant = request.linked()
    toggles = get_notification_settings(session=request.session, tenant=tenant).toggles
    routes = set(list_routes(session=request.session, link=link))
    rows = []
    for event in EVENTS.values():
        if event.scope == "system":
            state = "system"
        elif event.toggle is None:
            state = "always on"
        else:
            state = "on" if toggles.get(event.toggle) else "off"
        mirrored = event.name in routes or (ALL_EVENTS in routes and event.scope == "tenant")
        rows.append(EventRow(short_name(event), event.name, event.scope, state, mirrored))
    return Reply.of(events_message(rows))


def _switch(request: CommandRequest, enabled: bool) -> Reply:
    _, tenant = request.linked()
    changed = set_events(
        session=request.session,
        box=request.ctx.box,
        tenant=tenant,
        names=request.args,
        enabled=enabled,
        actor=request.actor,
    )
    verb = "enabled" if enabled else "disabled"
    if not changed:
        return Reply(text=f"Nothing to change: already {verb}.")
    names = ", ".join(changed)
    return Reply(
        text=f":white_check_mark: {verb.capitalize()} {names} for {tenant.slug}.",
        announce=f"{request.who} {verb} {names}",
    )


def enable(request: CommandRequest) -> Reply:
    return _switch(request, True)


def disable(request: CommandRequest) -> Reply:
    return _switch(request, False)


COMMANDS = {
    "events": Command(events),
    "enable": Command(enable),
    "disable": Command(disable),
}
