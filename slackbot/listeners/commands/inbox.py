"""`/mailbell route inbox ACCOUNT [from:PATTERN]`, `unroute inbox ACCOUNT [from:PATTERN]`:
new mail of one of the tenant's email accounts mirrored into this channel.

ACCOUNT is the account's address or id; PATTERN a shell-style glob on the sender address
(`from:*@carrier.example`), any case; without it, every sender. `unroute inbox ACCOUNT` without
a pattern stops every inbox route of that account here. Reached through `route` / `unroute`
(slackbot.listeners.commands.routes), so the same people may use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.channels.slack.blocks import escape
from core.errors import ValidationError
from core.services.slack_inbox import (
    PATTERN_FIELD,
    add_inbox_route,
    channel_inbox_routes,
    remove_inbox_routes,
)
from slackbot.listeners.commands.base import CommandRequest, Reply, usage

PREFIX = "from:"
ROUTE_USAGE = "route inbox ACCOUNT [from:PATTERN]"
UNROUTE_USAGE = "unroute inbox ACCOUNT [from:PATTERN]"


def describe(account: str, pattern: str) -> str:
    """`support@acme.example (every sender)`, `support@acme.example from `*@x.example``."""
    senders = f"from `{escape(pattern)}`" if pattern else "(every sender)"
    return f"{escape(account)} {senders}"


def inbox_summary(request: CommandRequest) -> str:
    """What this channel mirrors of the tenant's inboxes, for `route` without arguments."""
    assert request.channel is not None
    routes = channel_inbox_routes(request.session, request.channel.link_id)
    return "; ".join(describe(account, pattern) for account, pattern in routes) or "nothing"


def _parse(args: Sequence[str]) -> tuple[str, str | None] | None:
    """(account, pattern or None) from the words after `inbox`; None: show the usage."""
    if not args or args[0].lower().startswith(PREFIX):
        return None
    account, rest = args[0], list(args[1:])
    if not rest:
        return account, None
    if len(rest) > 1 or not rest[0].lower().startswith(PREFIX):
        raise ValidationError(
            PATTERN_FIELD,
            f"{' '.join(rest)[:100]!r} is not a sender pattern: write one word after the account, "
            "such as from:*@carrier.example",
        )
    return account, rest[0][len(PREFIX) :]


def route_inbox(request: CommandRequest) -> Reply:
    parsed = _parse(request.args[1:])
    if parsed is None:
        return usage(ROUTE_USAGE)
    link, _ = request.linked()
    view, added = add_inbox_route(
        session=request.session,
        link=link,
        account_ref=parsed[0],
        from_pattern=parsed[1],
        actor=request.actor,
    )
    what = describe(view.account, view.from_pattern)
    if not added:
        return Reply(text=f"Nothing to change: this channel already mirrors new mail of {what}.")
    return Reply(
        text=(
            f":white_check_mark: This channel now mirrors new mail of {what}. "
            f"Inbox routes here: {inbox_summary(request)}"
        ),
        announce=f"{request.who} set this channel to mirror new mail of {what}",
    )


def unroute_inbox(request: CommandRequest) -> Reply:
    parsed = _parse(request.args[1:])
    if parsed is None:
        return usage(UNROUTE_USAGE)
    link, _ = request.linked()
    removed = remove_inbox_routes(
        session=request.session,
        link=link,
        account_ref=parsed[0],
        from_pattern=parsed[1],
        actor=request.actor,
    )
    if not removed:
        return Reply(
            text=f"Nothing to change. Inbox routes here: {inbox_summary(request)}",
        )
    what = "; ".join(describe(view.account, view.from_pattern) for view in removed)
    return Reply(
        text=(
            f":white_check_mark: Stopped mirroring new mail of {what}. "
            f"Inbox routes here: {inbox_summary(request)}"
        ),
        announce=f"{request.who} stopped mirroring new mail of {what} in this channel",
    )
