"""`/mailbell recipients [add|remove ADDR…]`: the same validation as every front end."""

from __future__ import annotations

from core.services.notifications import get_notification_settings
from core.services.slack import change_recipients
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage


def _listing(addresses: list[str]) -> str:
    return ", ".join(escape(a) for a in addresses) if addresses else "none"


def recipients(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if not request.args:
        current = get_notification_settings(session=request.session, tenant=tenant).recipients
        return Reply(text=f"Recipients of {tenant.slug}: {_listing(current)}")
    action, addresses = request.args[0].lower(), request.args[1:]
    if action not in ("add", "remove") or not addresses:
        return usage("recipients [add|remove ADDR…]")
    before = get_notification_settings(session=request.session, tenant=tenant).recipients
    after = change_recipients(
        session=request.session,
        box=request.ctx.box,
        tenant=tenant,
        add=addresses if action == "add" else (),
        remove=addresses if action == "remove" else (),
        actor=request.actor,
    )
    added = [a for a in after if a not in before]
    removed = [a for a in before if a not in after]
    if not added and not removed:
        return Reply(text=f"Nothing to change. Recipients: {_listing(after)}")
    changes = []
    if added:
        changes.append(f"added {_listing(added)} to")
    if removed:
        changes.append(f"removed {_listing(removed)} from")
    summary = " and ".join(changes)
    return Reply(
        text=f":white_check_mark: {summary.capitalize()} the recipients. Now: {_listing(after)}",
        announce=f"{request.who} {summary} the notification recipients",
    )


COMMANDS = {"recipients": Command(recipients)}
