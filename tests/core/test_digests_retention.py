"""Retention keeps digests and their held deliveries together (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import select

from core.models._common import utcnow
from core.models.delivery import DigestBurst, EventRecord
from core.pipeline.retention import prune_deliveries_batch
from core.pipeline.worker import Worker
from tests.support.digests import (
    deliveries,
    digests,
    held,
    lost_call,
    record_digests,
    set_policy,
)
from tests.support.factories import emit_event, make_configured_tenant


def _work(ctx) -> None:
    async def run() -> None:
        worker = Worker(ctx)
        try:
            await worker.run_once()
        finally:
            await worker.close()

    asyncio.run(run())


def test_held_deliveries_stay_until_their_digest_goes_and_then_go_with_it(
    ctx, session, smtp_server, monkeypatch
):
    record_digests(monkeypatch)
    tenant = make_configured_tenant(session, ctx.box, smtp=smtp_server)
    set_policy(session, ctx.box, tenant, "2/1s")
    for number in range(5):
        emit_event(session, ctx.box, tenant, data=lost_call(number))
    _work(ctx)  # the singles
    later = utcnow() + timedelta(days=1)  # every row is past this cutoff

    counts = prune_deliveries_batch(ctx.engine, later)
    rows = deliveries(session)
    assert counts.deliveries == 2  # the sent singles; the digest is still queued
    assert len(held(rows)) == 3 and [d.status for d in digests(rows)] == ["queued"]

    monkeypatch.setattr("core.pipeline.outbox.utcnow", lambda: later)  # the window is over
    _work(ctx)
    assert [d.status for d in digests(deliveries(session))] == ["sent"]
    counts = prune_deliveries_batch(ctx.engine, later)
    assert counts.deliveries == 4 and deliveries(session) == []
    assert session.exec(select(func.count()).select_from(EventRecord)).one() == 0
    assert session.exec(select(DigestBurst)).all() == []  # quiet since the cutoff
