"""`/mailbell link TENANT`, `unlink`: which tenant this channel acts on (system admins only)."""

from __future__ import annotations

from core.services.slack import link_channel, unlink_channel
from core.services.tenants import get_tenant
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage


def link(request: CommandRequest) -> Reply:
    if len(request.args) != 1:
        return usage("link TENANT")
    tenant = get_tenant(session=request.session, slug=request.args[0].lower())
    current = request.channel
    if current is not None and current.tenant_id == tenant.id:
        return Reply(text=f"This channel is already linked to tenant {tenant.slug}.")
    moved = f" (was {current.tenant_slug}; its routes were cleared)" if current else ""
    link_channel(
        session=request.session,
        team_id=request.team_id,
        channel_id=request.channel_id,
        tenant_slug=tenant.slug,
        actor=request.actor,
    )
    return Reply(
        text=f":link: This channel is now linked to tenant {tenant.slug}{moved}.",
        announce=f"{request.who} linked this channel to tenant {tenant.slug}",
    )


def unlink(request: CommandRequest) -> Reply:
    tenant = unlink_channel(
        session=request.session,
        team_id=request.team_id,
        channel_id=request.channel_id,
        actor=request.actor,
    )
    return Reply(
        text=f"This channel is no longer linked to tenant {tenant.slug}.",
        announce=f"{request.who} unlinked this channel from tenant {tenant.slug}",
    )


COMMANDS = {
    "link": Command(link, system_only=True, needs_link=False),
    "unlink": Command(unlink, system_only=True, needs_link=False),
}
