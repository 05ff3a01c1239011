"""`/mailbell resend DELIVERY_ID [ADDRESS]`: a new copy of a finished delivery of the channel's
tenant, to its recipients or (an email) to ADDRESS; answered with the copy's id."""

from __future__ import annotations

from core.services.resend import resend_delivery
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage
from slackbot.listeners.commands.retry import delivery_id_of


def resend(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if len(request.args) not in (1, 2):
        return usage("resend DELIVERY_ID [ADDRESS]")
    delivery_id = delivery_id_of(request.args[0])
    address = request.args[1] if len(request.args) == 2 else None
    copy = resend_delivery(
        session=request.session,
        box=request.ctx.box,
        delivery_id=delivery_id,
        actor=request.actor,
        tenant=tenant,
        to=address,
    )
    to = escape(copy.target)
    what = f"delivery {copy.id}, a copy of {delivery_id} ({copy.event} → {copy.channel} {to})"
    return Reply(
        text=f":envelope_with_arrow: Queued {what}.",
        announce=f"{request.who} resent delivery {delivery_id} as {copy.id} ({copy.channel} {to})",
    )


COMMANDS = {"resend": Command(resend)}
