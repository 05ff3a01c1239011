"""Deliveries that end partial, sent or suppressed, for the status and re-send tests.

`three_recipients` configures a tenant whose default server is `srv` and whose recipients are
a@, b@ and c@acme.org; `drain` runs the real worker until nothing is due; `row` reads one
delivery back.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from sqlmodel import Session

from core.context import Context
from core.models.delivery import Delivery
from core.models.tenancy import Tenant
from core.pipeline.worker import Worker
from core.services.audit import Actor
from tests.support.factories import configure_tenant
from tests.support.smtp_servers import SmtpTestServer

RECIPIENTS = ["a@acme.org", "b@acme.org", "c@acme.org"]
REFUSED = "550 5.1.1 no such user"


def three_recipients(
    session: Session,
    ctx: Context,
    tenant: Tenant,
    actor: Actor,
    srv: SmtpTestServer,
    toggles: tuple[str, ...] = ("notify_queue_call_lost", "notify_user_registration"),
) -> Tenant:
    """`tenant` sends through `srv` (From pbx@acme.org) to RECIPIENTS, with `toggles` on."""
    server = {"name": "test", "mail_from": "PBX <pbx@acme.org>"}
    return configure_tenant(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        server=server,
        recipients=RECIPIENTS,
        toggles=toggles,
        actor=actor,
    )


async def drain(ctx: Context) -> None:
    """One pass of the real worker: every due delivery sent and its outcome recorded."""
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


def row(ctx: Context, delivery_id: int) -> Delivery:
    with ctx.session() as session:
        found = session.get(Delivery, delivery_id)
        assert found is not None
        return found


def parsed(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def body_of(data: bytes) -> bytes:
    """Everything below the header: what a re-sent copy keeps byte for byte."""
    return data.partition(b"\r\n\r\n")[2]
