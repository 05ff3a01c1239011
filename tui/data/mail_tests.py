"""Tests that talk to a mail server: a connection test (nothing sent) and a test email.

Both are network work on the event loop; the owner lookup before them runs on a thread.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from tui.runtime import check, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.mail.connection_report import ConnectionReport
    from core.models.tenancy import Tenant


def _owner(ctx: Context, slug: str | None) -> Tenant | None:
    with ctx.session() as session:
        return owner(session, slug, write=True)


async def connection_test(
    ctx: Context,
    slug: str | None,
    *,
    server_id: int | None,
    changes: dict[str, Any] | None,
    data: dict[str, Any] | None,
    on_step: Any = None,
) -> ConnectionReport:
    """Test a saved server (with `changes` not saved yet) or unsaved settings (`data`)."""
    from core.services.mail_tests import test_mail_server

    tenant = await asyncio.to_thread(_owner, ctx, slug)
    extra: dict[str, Any] = {}
    if on_step is not None:
        parameters = inspect.signature(test_mail_server).parameters
        for name in ("on_step", "progress"):
            if name in parameters:
                extra[name] = on_step
                break
    if server_id is not None:
        return await test_mail_server(
            ctx=ctx, tenant=tenant, server_id=server_id, changes=changes or None, **extra
        )
    assert data is not None
    # A new server's fields: made by the rules of a save, never stored (core's drafts).
    fields = {k: v for k, v in data.items() if k not in ("is_default", "name")}
    return await test_mail_server(ctx=ctx, tenant=tenant, changes=fields, **extra)


async def send_test_email(
    ctx: Context,
    slug: str | None,
    recipient: str,
    subject: str,
    content: str,
    *,
    server_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> Any:
    """Through the effective server, or a server form's: saved server `server_id` with its
    unsaved `changes`, or a new server's fields (`changes` alone); nothing is saved."""
    from core.services.mail_tests import send_test_email

    tenant = await asyncio.to_thread(_owner, ctx, slug)
    return await send_test_email(
        ctx=ctx,
        tenant=tenant,
        recipient=recipient,
        subject=subject,
        content=content,
        server_id=server_id,
        changes=changes or None,
    )


def recipient_error(recipient: str) -> str | None:
    from core import validation as v

    if not recipient.strip():
        return "is required"
    return check(v.email_address, "recipient", recipient)


def subject_error(subject: str) -> str | None:
    from core import validation as v

    return check(v.single_line, "subject", subject, max_length=255) or (
        None if subject.strip() else "is required"
    )
