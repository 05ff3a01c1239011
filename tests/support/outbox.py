"""Queued deliveries for tests of the delivery log: tenant acme, configured, N events emitted."""

from __future__ import annotations

from sqlmodel import Session

from core.context import Context
from core.services.audit import Actor
from tests.support.factories import ACME_SERVER, emit_events, make_configured_tenant


def queue_deliveries(ctx: Context, session: Session, actor: Actor, count: int) -> list[int]:
    """`count` queued QUEUE_CALL_LOST deliveries of a new tenant "acme"; their ids, oldest first."""
    tenant = make_configured_tenant(
        session,
        ctx.box,
        server=ACME_SERVER,
        actor=actor,
    )
    return emit_events(session, ctx.box, tenant, count)
