"""Slack: linked channels and what they mirror, inbox routes, Slack admins; each change returns
the sentence the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.runtime import actor, owner, require_system_admin

if TYPE_CHECKING:
    from core.context import Context

ALL = "*"  # the route "every event of the tenant"


@dataclass(frozen=True)
class SlackView:
    channels: list[Any]
    admins: list[Any]
    inbox: list[Any]  # core.services.slack_inbox.InboxRouteView
    events: list[tuple[str, str]]  # (event name, short name) routable from the TUI


def load(ctx: Context, slug: str | None) -> SlackView:
    require_system_admin("the Slack page")
    from core.services.slack import list_links, routable_events, short_name
    from core.services.slack_admins import list_admins
    from core.services.slack_inbox import list_inbox_routes

    with ctx.session() as session:
        tenant = owner(session, slug)
        channels = list_links(session=session, tenant=tenant)
        admins = list_admins(session=session, tenant=tenant, admin_ids=ctx.settings.slack_admin_ids)
        inbox = list_inbox_routes(session=session, tenant=tenant)
    events = [(e.name, short_name(e)) for e in routable_events(system_admin=True)]
    return SlackView(channels, admins, inbox, events)


def link(ctx: Context, team: str, channel: str, tenant: str) -> str:
    require_system_admin("the Slack page")
    from core.services.slack import link_channel

    with ctx.session() as session:
        link_channel(
            session=session, team_id=team, channel_id=channel, tenant_slug=tenant, actor=actor()
        )
    return f"Channel {channel} linked to tenant {tenant}"


def unlink(ctx: Context, team_id: str, channel_id: str) -> str:
    require_system_admin("the Slack page")
    from core.services.slack import unlink_channel

    with ctx.session() as session:
        unlink_channel(session=session, team_id=team_id, channel_id=channel_id, actor=actor())
    return f"Channel {channel_id} unlinked"


def save_routes(ctx: Context, channel: Any, chosen: set[str], order: list[str]) -> str:
    """Make `channel` mirror exactly `chosen` (event names, or ALL); `order` is the catalogue's."""
    require_system_admin("the Slack page")
    from core.errors import NotFound
    from core.services.slack import add_routes, get_link, remove_routes

    current = set(channel.routes)
    add = [name for name in order if name in chosen - current]
    remove = [name for name in order if name in current - chosen]
    with ctx.session() as session:
        found = get_link(session=session, team_id=channel.team_id, channel_id=channel.channel_id)
        if found is None:
            raise NotFound(f"channel {channel.channel_id} is not linked any more")
        adding = add
        if ALL in remove:  # "all" off: clear, then put back what stays ticked
            remove_routes(
                session=session, link=found, names=["all"], actor=actor(), system_admin=True
            )
            adding = [name for name in order if name in chosen]
        elif remove:
            remove_routes(
                session=session, link=found, names=remove, actor=actor(), system_admin=True
            )
        if adding:
            names = ["all" if name == ALL else name for name in adding]
            add_routes(session=session, link=found, names=names, actor=actor(), system_admin=True)
    return f"Routes of {channel.channel_id} saved"


def remove_inbox_route(ctx: Context, route: Any) -> str:
    require_system_admin("the Slack page")
    from core.services.slack_inbox import remove_inbox_route_by_id

    with ctx.session() as session:
        remove_inbox_route_by_id(session=session, route_id=route.id, actor=actor())
    return (
        f"Channel {route.channel_id} no longer mirrors new mail of {route.account} "
        f"({route.senders})"
    )


def add_admin(ctx: Context, slug: str | None, user: str, team: str) -> str:
    require_system_admin("the Slack page")
    from core.services.slack_admins import add_admin

    with ctx.session() as session:
        add_admin(
            session=session, user_id=user, team_id=team, tenant=owner(session, slug), actor=actor()
        )
    return f"{user} is now a Slack admin"


def remove_admin(ctx: Context, slug: str | None, user_id: str) -> str:
    require_system_admin("the Slack page")
    from core.services.slack_admins import remove_admin

    who = "the system" if slug is None else f"tenant {slug}"
    with ctx.session() as session:
        remove_admin(session=session, user_id=user_id, tenant=owner(session, slug), actor=actor())
    return f"{user_id} is no longer a Slack admin of {who}"
