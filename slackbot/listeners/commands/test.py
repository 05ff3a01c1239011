"""`/mailbell test ADDR`: acknowledged at once; the email goes out after the ack and the answer
(the server's reply, or the step that failed with its reply) comes through `response_url`."""

from __future__ import annotations

import asyncio
from typing import Any

from core import validation as v
from core.context import Context
from core.models.tenancy import Tenant
from core.services.tenants import get_tenant
from slackbot.blocks.common import escape
from slackbot.blocks.test_email import SUBJECT, test_email_line
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage

CONTENT = (
    "This is a test email sent from Slack with /mailbell test by {user}.\n"
    "If you can read it, tenant {tenant}'s mail server delivers mail."
)


def test(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    if len(request.args) != 1:
        return usage("test ADDR")
    address = v.email_address("recipient", request.args[0])
    return Reply(
        text=f":hourglass_flowing_sand: Sending a test email to {escape(address)}…",
        work={
            "kind": "test_email",
            "tenant": tenant.slug,
            "to": address,
            "user": request.user_id,
        },
    )


async def run_test_email(
    ctx: Context, work: dict[str, Any], respond: Any, client: Any = None
) -> None:
    from core.services.mail_tests import send_test_email

    def load_tenant() -> Tenant:
        with ctx.session() as session:
            return get_tenant(session=session, slug=work["tenant"])

    tenant = await asyncio.to_thread(load_tenant)  # database work stays off the event loop
    result = await send_test_email(
        ctx=ctx,
        tenant=tenant,
        recipient=work["to"],
        subject=SUBJECT,
        content=CONTENT.format(user=work["user"], tenant=tenant.slug),
    )
    text = test_email_line(work["to"], result)
    await respond(text=text, response_type="ephemeral", replace_original=False)


COMMANDS = {"test": Command(test)}
