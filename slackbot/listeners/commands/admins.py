"""`/mailbell admins [add|remove @user]`: the Slack admins of the channel's tenant."""

from __future__ import annotations

from core.errors import ValidationError
from core.services.slack_admins import add_admin, list_admins, remove_admin
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage
from slackbot.text import mention, user_id


def admins(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if not request.args:
        system = list_admins(
            session=request.session,
            tenant=None,
            admin_ids=request.ctx.settings.slack_admin_ids,
        )
        own = list_admins(session=request.session, tenant=tenant)
        tenant_line = ", ".join(mention(a.user_id) for a in own) or "none"
        system_line = ", ".join(dict.fromkeys(mention(a.user_id) for a in system)) or "none"
        return Reply(text=f"Admins of {tenant.slug}: {tenant_line}\nSystem admins: {system_line}")
    action, targets = request.args[0].lower(), request.args[1:]
    if action not in ("add", "remove") or len(targets) != 1:
        return usage("admins [add|remove @user]")
    user = user_id(targets[0])
    if user is None:
        raise ValidationError("user", f"{targets[0]!r} is not a Slack user: mention them (@name)")
    if action == "add":
        add_admin(
            session=request.session,
            user_id=user,
            tenant=tenant,
            team_id=request.team_id,
            actor=request.actor,
        )
        summary = f"made {mention(user)} a mailbell admin of {tenant.slug}"
    else:
        remove_admin(session=request.session, user_id=user, tenant=tenant, actor=request.actor)
        summary = f"removed {mention(user)} from the mailbell admins of {tenant.slug}"
    return Reply(text=f":white_check_mark: You {summary}.", announce=f"{request.who} {summary}")


COMMANDS = {"admins": Command(admins)}
