"""Digest rendering test helpers: held lost calls and the draft the worker would hand a renderer.

- `lost_calls(n, queues=...)`: `n` held QUEUE_CALL_LOST events, callers +49 30 000001, ...
  (distinct, to count each once), at START + n seconds, queues taken in turn from `queues`.
- `draft(session, ctx, tenant, items, ...)`: a `DigestDraft` of the window START-END (10:05-10:15
  UTC) to RECIPIENTS (or `target`), as core/pipeline/digest_close.py makes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from core.catalog import sample
from core.channels.base import DigestDraft, HeldItem
from core.context import Context
from core.models.tenancy import Tenant

START = datetime(2026, 11, 3, 10, 5, tzinfo=UTC)
END = START + timedelta(minutes=10)
RECIPIENTS = ("ops@acme.org", "boss@acme.org")


def lost_calls(count: int, *, queues: tuple[str, ...] = ("Sales",)) -> list[HeldItem]:
    """`count` held lost calls, each with a caller of its own (+49 30 000001, ...)."""
    base = sample("QUEUE_CALL_LOST")
    return [
        HeldItem(
            delivery_id=100 + n,
            event_id=n,
            at=START + timedelta(seconds=n),
            payload={**base, "caller": f"+49 30 {n:06d}", "queue_name": queues[n % len(queues)]},
        )
        for n in range(1, count + 1)
    ]


def draft(
    session: Session,
    ctx: Context,
    tenant: Tenant | None,
    items: list[HeldItem],
    *,
    total: int | None = None,
    server_id: int | None = None,
    target: str = ",".join(RECIPIENTS),
    event: str = "QUEUE_CALL_LOST",
    channel: str = "email",
) -> DigestDraft:
    return DigestDraft(
        session=session,
        box=ctx.box,
        tenant=tenant,
        event=event,
        channel=channel,
        target=target,
        delivery_id=999,
        mail_server_id=server_id,
        items=items,
        total=len(items) if total is None else total,
        window_start=START,
        window_end=END,
    )
