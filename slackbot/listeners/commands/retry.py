"""`/mailbell retry DELIVERY_ID`: queue a failed delivery of the channel's tenant again."""

from __future__ import annotations

from core.errors import NotFound, ValidationError
from core.services.deliveries import retry_delivery
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage

MAX_ID_DIGITS = 20


def delivery_id_of(word: str) -> int:
    """A delivery id typed in Slack (`42` or `#42`)."""
    raw = word.lstrip("#")
    # ASCII digits only: str.isdigit() also accepts "²", on which int() fails.
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationError("delivery", f"{raw[:40]!r} is not a delivery id (a number)")
    # int() refuses over 4,300 digits; any id past 20 digits is past the largest row id anyway
    # (the delivery service answers "does not exist" for those it is given).
    if len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"delivery {raw[:MAX_ID_DIGITS]}… does not exist")
    return int(raw)


def retry(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if len(request.args) != 1:
        return usage("retry DELIVERY_ID")
    delivery = retry_delivery(
        session=request.session,
        box=request.ctx.box,
        delivery_id=delivery_id_of(request.args[0]),
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
