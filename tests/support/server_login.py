"""What the login-problem tests of mail servers look at: the deliveries in order, and the text
`/mailbell status` answers for a tenant (where a revoked or refused login must show)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from core.models.delivery import Delivery
from core.services.slack_status import tenant_overview
from slackbot.blocks.status import status_message


def deliveries(ctx: Any) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


def slack_status(ctx: Any, tenant: Any) -> str:
    """The text of `/mailbell status` for `tenant` (the blocks the command answers with)."""
    with ctx.session() as session:
        overview = tenant_overview(session=session, tenant_id=tenant.id, tenant_slug=tenant.slug)
    answer = status_message(
        tenant=tenant.slug,
        server=overview.server,
        server_source=overview.server_source,
        recipients=[],
        toggles=[],
        routes=[],
        queued=0,
        failures=[],
    )
    return json.dumps(answer, ensure_ascii=False)
