"""`/mailbell timezone [ZONE | system]` and `/mailbell locale [LOCALE | system]`: where the
channel's tenant's mail reads (its dates' time zone; its language and formats). No argument
shows the tenant's own value and the one its mail reads in; `system` unsets it (the system's
applies again). In a channel linked to no tenant, a system admin shows or sets the system's.
"""

from __future__ import annotations

from core.models.tenancy import Tenant
from core.services.slack_locality import LocalityLine, locality_line, set_locality
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage

WORDS = {"timezone": "time zone", "locale": "locale"}
USAGE = {"timezone": "timezone [ZONE | system]", "locale": "locale [LOCALE | system]"}
EXAMPLES = {"timezone": "Europe/Paris", "locale": "fr_FR"}


def _whose(tenant: Tenant | None) -> str:
    return "the system" if tenant is None else tenant.slug


def _hint(name: str, tenant: Tenant | None) -> str:
    reset = "`default` for the default" if tenant is None else "`system` to follow the system's"
    return f"Change it with `/mailbell {name} {EXAMPLES[name]}`, or {reset}."


def _state(line: LocalityLine, tenant: Tenant | None) -> str:
    """`Europe/Paris`, or for a tenant that set none the system's it follows."""
    if line.own is None:
        return f"not set: its mail follows the system's, `{escape(line.effective)}`"
    if tenant is None:
        return f"`{escape(line.own)}` (tenants that set none follow it)"
    return f"`{escape(line.own)}`"


def _owner(request: CommandRequest) -> Tenant | None:
    # The router lets only system admins through a channel linked to no tenant.
    return request.linked()[1] if request.channel is not None else None


def _command(request: CommandRequest) -> Reply:
    name = request.name
    tenant = _owner(request)
    what = f"the {WORDS[name]} of {_whose(tenant)}"
    if not request.args:
        line = locality_line(session=request.session, tenant=tenant, name=name)
        return Reply(
            text=f"{what[0].upper()}{what[1:]}: {_state(line, tenant)}. "
            f"Dates read: {line.sample}.\n{_hint(name, tenant)}"
        )
    if len(request.args) > 1:
        return usage(USAGE[name])
    line, changed = set_locality(
        session=request.session,
        box=request.ctx.box,
        tenant=tenant,
        name=name,
        value=request.args[0],
        actor=request.actor,
    )
    if not changed:
        return Reply(text=f"Nothing to change: {what} is {_state(line, tenant)}.")
    if line.own is None:
        summary = f"unset {what}: its mail follows the system's, {line.effective}"
    else:
        summary = f"set {what} to {line.own}"
    return Reply(
        text=f":white_check_mark: You {escape(summary)}. Dates read: {line.sample}.",
        announce=f"{request.who} {escape(summary)}",
    )


COMMANDS = {
    "timezone": Command(_command, needs_link=False),
    "locale": Command(_command, needs_link=False),
}
