"""`/mailbell retry DELIVERY_ID`: queue a failed delivery of the channel's tenant again."""

from __future__ import annotations

from core.errors import ValidationError
from core.services.deliveries import retry_delivery
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage


def retry(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if len(request.args) != 1:
        return usage("retry DELIVERY_ID")
    raw = request.args[0].lstrip("#")
    if not raw.isdigit():
        raise ValidationError("delivery", f"{raw!r} is not a delivery id (a number)")
    delivery = retry_delivery(
        session=request.session,
        box=request.ctx.box,
        delivery_id=int(raw),
        actor=request.actor,
        tenant=tenant,
    )
    what = (
        f"delivery {delivery.id} ({delivery.event} → {delivery.channel} {escape(delivery.target)})"
    )
    return Reply(
        text=f":repeat: Queued {what} again.",
        announce=f"{request.who} queued {what} again",
    )


COMMANDS = {"retry": Command(retry)}
