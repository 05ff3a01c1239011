"""`/mailbell route EVENT…|all`, `unroute EVENT…|all`: which events this channel mirrors.

`all` is every tenant event; system events are routed by name, by system admins only.
`route inbox …` / `unroute inbox …` (new mail of an email account) live in `inbox`.
"""

from __future__ import annotations

from core.catalog import EVENTS
from core.models.slack import ALL_EVENTS
from core.services.slack import add_routes, remove_routes, short_name
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage
from slackbot.listeners.commands.inbox import inbox_summary, route_inbox, unroute_inbox
from slackbot.listeners.commands.status import routed_names


def _names(events: list[str]) -> str:
    return ", ".join(
        "every tenant event" if e == ALL_EVENTS else short_name(EVENTS[e]) for e in events
    )


def _now(request: CommandRequest) -> str:
    link, _ = request.linked()
    names = routed_names(request.session, link)
    shown = ["every tenant event" if n == ALL_EVENTS else n for n in names]
    return ", ".join(shown) or "nothing"


def _is_inbox(request: CommandRequest) -> bool:
    return bool(request.args) and request.args[0].lower() == "inbox"


def route(request: CommandRequest) -> Reply:
    if _is_inbox(request):
        return route_inbox(request)
    link, _ = request.linked()
    if not request.args:
        return Reply(
            text=(
                f"This channel mirrors: {_now(request)}. New mail of: {inbox_summary(request)}. "
                "Usage: `/mailbell route EVENT…|all` or `/mailbell route inbox ACCOUNT "
                "[from:PATTERN]`"
            )
        )
    added = add_routes(
        session=request.session,
        link=link,
        names=request.args,
        actor=request.actor,
        system_admin=request.system_admin,
    )
    if not added:
        return Reply(text=f"Nothing to change. This channel mirrors: {_now(request)}")
    return Reply(
        text=f":white_check_mark: This channel now mirrors: {_now(request)}",
        announce=f"{request.who} set this channel to mirror {_names(added)}",
    )


def unroute(request: CommandRequest) -> Reply:
    if _is_inbox(request):
        return unroute_inbox(request)
    link, _ = request.linked()
    if not request.args:
        return usage("unroute EVENT…|all  or  unroute inbox ACCOUNT [from:PATTERN]")
    removed = remove_routes(
        session=request.session,
        link=link,
        names=request.args,
        actor=request.actor,
        system_admin=request.system_admin,
    )
    if not removed:
        return Reply(text=f"Nothing to change. This channel mirrors: {_now(request)}")
    return Reply(
        text=f":white_check_mark: Stopped mirroring {_names(removed)}. Now: {_now(request)}",
        announce=f"{request.who} stopped mirroring {_names(removed)} in this channel",
    )


COMMANDS = {"route": Command(route), "unroute": Command(unroute)}
