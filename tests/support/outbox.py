"""Queued deliveries for tests of the delivery log: tenant acme, configured, N events emitted."""

from __future__ import annotations

from sqlmodel import Session

from core.catalog import sample
from core.context import Context
from core.pipeline.emit import emit
from core.services.audit import Actor
from core.services.notifications import update_notification_settings
from core.services.tenants import create_tenant


def queue_deliveries(ctx: Context, session: Session, actor: Actor, count: int) -> list[int]:
    """`count` queued QUEUE_CALL_LOST deliveries of a new tenant "acme"; their ids, oldest first."""
    tenant = create_tenant(session=session, slug="acme", actor=actor)
    update_notification_settings(
        session=session,
        box=ctx.box,
        tenant=tenant,
        changes={
            "server": "smtp.acme.org",
            "username": "alerts@acme.org",
            "recipients": "ops@acme.org",
            "notify_queue_call_lost": True,
        },
        actor=actor,
    )
    ids: list[int] = []
    for _ in range(count):
        result = emit(
            session=session,
            box=ctx.box,
            tenant=tenant,
            event="QUEUE_CALL_LOST",
            data=sample("QUEUE_CALL_LOST"),
        )
        ids += [d.id for d in result.deliveries]
    return ids
