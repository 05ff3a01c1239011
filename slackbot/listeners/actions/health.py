"""The buttons of a health alert: "Check now" (`health_check_now`) and "Mute 24 h"
(`health_mute`); the button's value is the subject's key (`slack:link:7`, `mail_server:3`, …).

Who: a system admin, for any subject; a tenant's Slack admin, for that tenant's subjects, in a
channel linked to that tenant. Anyone else is refused, audited, and nothing changes.

"Check now" is audited at the click (`health.check`), then runs the checks of the subject's
owner (the tenant, or the system) after the ack, as follow-up work
(`slackbot.listeners.actions.health_check`), and answers the user alone with the subject's
state. "Mute 24 h" mutes the subject (`core.services.health.mute_subject`,
audited `health.mute`) and says so in the channel, so the other admins know why alerts stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session

from core.channels.slack.blocks import HEALTH_CHECK_NOW, HEALTH_MUTE
from core.context import Context
from core.health.store import get_subject
from core.models.health import HealthSubject
from core.models.tenancy import Tenant
from core.services.audit import Actor, record
from core.services.health import mute_subject
from core.services.slack import channel_ref
from core.services.slack_admins import (
    is_system_admin,
    is_tenant_admin,
    record_refusal,
    slack_actor,
)
from slackbot.blocks.common import escape
from slackbot.blocks.health import mute_answer
from slackbot.listeners.actions.health_check import subject_line
from slackbot.listeners.followup import Followup, FollowupRunner
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase
from slackbot.text import mention

log = logging.getLogger("slackbot")

# The alert's buttons, declared with the alert message (core/channels/slack/blocks.py).
CHECK_NOW = HEALTH_CHECK_NOW
MUTE = HEALTH_MUTE
MUTE_HOURS = 24.0


@dataclass
class Outcome:
    error: str | None = None
    announce: str | None = None
    work: dict[str, Any] | None = None


@dataclass(frozen=True)
class Allowed:
    subject: HealthSubject
    tenant: Tenant | None  # the subject's owner (None: the system)
    actor: Actor
    system_admin: bool


def _clicker(body: dict[str, Any]) -> tuple[str, str, str]:
    user = body.get("user") or {}
    team_id = (body.get("team") or {}).get("id") or user.get("team_id", "")
    return user.get("id", ""), team_id, (body.get("channel") or {}).get("id", "")


def _refusal(row: HealthSubject | None, key: str) -> str:
    if row is not None and row.tenant_id is None:
        return (
            f":no_entry: Only system admins may act on mailbell's own health (`{escape(key)}`). "
            "Nothing was changed."
        )
    return (
        ":no_entry: You may not act on this health subject: only system admins and Slack admins "
        "of its tenant, in a channel linked to it, may. Nothing was changed."
    )


def authorize(
    ctx: Context, session: Session, body: dict[str, Any], key: str, button: str
) -> Allowed | Outcome:
    """The subject and who acts on it, or the answer that refuses (audited)."""
    user_id, team_id, channel_id = _clicker(body)
    actor = slack_actor(user_id, team_id)
    system_admin = is_system_admin(
        session=session, admin_ids=ctx.settings.slack_admin_ids, user_id=user_id, team_id=team_id
    )
    row = get_subject(session, key) if key else None
    allowed = system_admin
    if not allowed and row is not None and row.tenant_id is not None:
        channel = channel_ref(session=session, team_id=team_id, channel_id=channel_id)
        allowed = (
            channel is not None
            and channel.tenant_id == row.tenant_id
            and is_tenant_admin(
                session=session, tenant_id=row.tenant_id, user_id=user_id, team_id=team_id
            )
        )
    if not allowed:
        tenant = session.get(Tenant, row.tenant_id) if row and row.tenant_id else None
        slug = tenant.slug if tenant else None
        record_refusal(session=session, actor=actor, tenant_slug=slug, command=f"{button} {key}")
        return Outcome(error=_refusal(row, key))
    if row is None:
        return Outcome(
            error=f":grey_question: `{escape(key)}` is not watched any more. Nothing was changed."
        )
    owner = session.get(Tenant, row.tenant_id) if row.tenant_id is not None else None
    if not system_admin:  # a tenant's admin holds that tenant's rights only
        actor = replace(actor, tenant_scoped=True)
    return Allowed(row, owner, actor, system_admin)


def decide_mute(ctx: Context, body: dict[str, Any], action: dict[str, Any]) -> Outcome:
    key = str(action.get("value") or "")
    with ctx.session() as session:
        allowed = authorize(ctx, session, body, key, MUTE)
        if isinstance(allowed, Outcome):
            return allowed
        mute_subject(
            session=session,
            key=key,
            tenant=None if allowed.system_admin else allowed.tenant,
            hours=MUTE_HOURS,
            actor=allowed.actor,
        )
        line = subject_line(session, key, allowed.subject.tenant_id)
    assert line is not None  # muted just now, in this session
    return Outcome(announce=mute_answer(line, user_mention=mention(_clicker(body)[0])))


def decide_check(ctx: Context, body: dict[str, Any], action: dict[str, Any]) -> Outcome:
    key = str(action.get("value") or "")
    with ctx.session() as session:
        allowed = authorize(ctx, session, body, key, CHECK_NOW)
        if isinstance(allowed, Outcome):
            return allowed
        tenant = allowed.tenant
        record(
            session,
            actor=allowed.actor,
            action="health.check",
            tenant=tenant.slug if tenant else None,
            target=key,
        )
        session.commit()
    return Outcome(
        work={"kind": "health_check", "key": key, "tenant_id": tenant.id if tenant else None}
    )


class HealthListener:
    """Both buttons; the decision runs off the event loop (`slackbot.listeners.offloop`)."""

    def __init__(self, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
        self.ctx = ctx
        self.runner = runner
        self.database = database

    async def check_now(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        await self._handle(decide_check, ack, body, action, client, respond)

    async def mute(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        await self._handle(decide_mute, ack, body, action, client, respond)

    async def _handle(
        self,
        decide: Any,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        client: Any,
        respond: Any,
    ) -> None:
        try:
            outcome: Outcome = await self.database.run(decide, body, action)
        except DatabaseBusy as busy:
            log.warning("slack: database busy, health button not run (%s)", busy)
            outcome = Outcome(error=BUSY_TEXT)
        await ack()
        followup = Followup(
            channel=(body.get("channel") or {}).get("id"),
            announce=outcome.announce,
            error=outcome.error,
            work=outcome.work,
        )
        self.runner.start(followup, client=client, respond=respond)
