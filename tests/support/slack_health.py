"""The Slack side of the health watch, for tests: a routed channel, posts through the real
worker and Slack channel, and passes of the Slack check alone.

    link_id = route_channel(ctx, "acme", "CACME00001")        # the link carries a route
    await deliver_slack(ctx)                                  # the worker posts what is queued
    await slack_pass(ctx)                                     # one result per Slack subject
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from core.services.audit import Actor
from tests.support.slack_api import TEAM_ID, SlackApiStandIn

if TYPE_CHECKING:
    from core.context import Context
    from core.health.runner import CheckScope
    from core.health.store import Notice

SETUP = Actor("setup", "cli")


class SlackApiWithAnswers(SlackApiStandIn):
    """The stand-in, with set answers for methods it answers only `{"ok": true}` to (such as
    conversations.info), and faults that can be lifted."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers: dict[str, dict[str, Any]] = {}

    def heal(self) -> None:
        """Lift every fault set with `fail`."""
        self._faults.clear()

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in self.answers:
            return self.answers[method]
        return super()._answer(method, body)


def route_channel(
    ctx: Context, slug: str, channel_id: str, events: tuple[str, ...] = ("queue_call_lost",)
) -> int:
    """Tenant `slug` (made when missing) with recipients and QUEUE_CALL_LOST on, `channel_id`
    linked to it and `events` routed there; returns the link id."""
    from core.models.tenancy import Tenant
    from core.services.slack import add_routes, get_link, link_channel
    from tests.support.factories import configure_tenant, make_tenant

    with ctx.session() as session:
        tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
        if tenant is None:
            tenant = make_tenant(session, slug=slug, actor=SETUP)
        configure_tenant(session, ctx.box, tenant, recipients=(f"ops@{slug}.org",), actor=SETUP)
        link_channel(
            session=session, team_id=TEAM_ID, channel_id=channel_id, tenant_slug=slug, actor=SETUP
        )
        link = get_link(session=session, team_id=TEAM_ID, channel_id=channel_id)
        assert link is not None and link.id is not None
        add_routes(session=session, link=link, names=list(events), actor=SETUP)
        return link.id


def emit_for(ctx: Context, slug: str) -> None:
    from core.services.tenants import get_tenant
    from tests.support.factories import emit_event

    with ctx.session() as session:
        emit_event(session, ctx.box, get_tenant(session=session, slug=slug))


def _queued_slack(ctx: Context) -> int:
    from core.models.delivery import Delivery

    with ctx.session() as session:
        rows = session.exec(
            select(Delivery).where(
                Delivery.channel == "slack",
                Delivery.status.in_(["queued", "sending"]),  # type: ignore[attr-defined]
            )
        ).all()
        return len(rows)


async def deliver_slack(ctx: Context, timeout: float = 10.0) -> None:
    """Run the real worker with the real Slack channel until no Slack delivery is queued."""
    from core.channels.slack import SlackChannel
    from core.pipeline.worker import Worker

    ctx.settings.retry_base_s = 0.05
    worker = Worker(ctx, channels={"slack": SlackChannel(ctx, pace_interval_s=0)})
    deadline = time.monotonic() + timeout
    try:
        while True:
            await worker.run_once()
            if _queued_slack(ctx) == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError("Slack deliveries still queued")
            await asyncio.sleep(0.02)
    finally:
        await worker.close()


async def slack_pass(ctx: Context, scope: CheckScope | None = None) -> list[Notice]:
    """One pass of the Slack check alone (recorded like the scheduled ones)."""
    from core.health.runner import CHECKS, run_pass

    [check] = [c for c in CHECKS if c.name == "slack"]
    return await run_pass(ctx, (check,), scope)


def subject(ctx: Context, key: str):  # type: ignore[no-untyped-def]
    from core.health.store import get_subject

    with ctx.session() as session:
        row = get_subject(session, key)
        if row is not None:
            session.expunge(row)
        return row


def link_result(ctx: Context, link_id: int) -> tuple[object, object]:
    """(last_post_at, last_post_error) of the link."""
    from core.models.slack import SlackChannelLink

    with ctx.session() as session:
        link = session.get(SlackChannelLink, link_id)
        assert link is not None
        return link.last_post_at, link.last_post_error
