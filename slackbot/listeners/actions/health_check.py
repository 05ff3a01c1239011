"""The follow-up work of the "Check now" button (`slackbot.listeners.actions.health`): run the
checks of the subject's owner, then answer the clicking user alone with the subject's state and,
while a state waits for a second agreeing result, the newest one. Started by
`slackbot.listeners.followup` after the ack (work kind `health_check`)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session

from core.context import Context
from core.health.store import get_subject
from core.models.tenancy import Tenant
from core.services.health import check_now
from core.services.slack_status import HealthLine, health_lines
from core.vocabulary import HealthState
from slackbot.blocks.health import check_answer

# Scopes ("system", "tenant:ID") whose "Check now" is running in this process: a second click
# is told to wait instead of starting another pass.
_RUNNING: set[str] = set()


def subject_line(session: Session, key: str, tenant_id: int | None) -> HealthLine | None:
    return next(
        (x for x in health_lines(session=session, tenant_id=tenant_id) if x.key == key), None
    )


def _after_check(
    ctx: Context, key: str, tenant_id: int | None
) -> tuple[HealthLine | None, HealthState | None]:
    with ctx.session() as session:
        row = get_subject(session, key)
        latest = HealthState(row.candidate_state) if row and row.candidate_state else None
        return subject_line(session, key, tenant_id), latest


async def run_health_check(
    ctx: Context, work: dict[str, Any], respond: Any, client: Any = None
) -> None:
    """The follow-up of "Check now": run the owner's checks, answer the user alone."""
    key, tenant_id = str(work["key"]), work.get("tenant_id")
    scope = f"tenant:{tenant_id}" if tenant_id is not None else "system"
    tenant = None
    if tenant_id is not None:
        tenant = await asyncio.to_thread(_tenant, ctx, int(tenant_id))
    if tenant_id is not None and tenant is None:
        text = ":grey_question: This subject's tenant no longer exists: nothing to check."
    elif scope in _RUNNING:
        text = ":hourglass: A check is already running for these subjects; try again in a moment."
    else:
        _RUNNING.add(scope)
        try:
            await check_now(ctx, tenant=tenant, system=tenant is None)
        finally:
            _RUNNING.discard(scope)
        line, latest = await asyncio.to_thread(_after_check, ctx, key, tenant_id)
        text = check_answer(line, latest=latest, key=key)
    await respond(text=text, response_type="ephemeral", replace_original=False)


def _tenant(ctx: Context, tenant_id: int) -> Tenant | None:
    with ctx.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is not None:
            session.expunge(tenant)
        return tenant
