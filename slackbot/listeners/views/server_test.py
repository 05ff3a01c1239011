"""The modal's buttons, after the ack: "Test connection" walks the settings as typed
(unsaved, core.services.mail_tests) and shows each step in the modal; a preset re-fills host,
port and security. Each answers with `views.update` (the view's id and hash), re-drawing the
form with what was typed, so nothing the user entered is lost; the password never leaves
Slack's client except in the test itself."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from core.context import Context
from core.errors import MailbellError, NotFound, ValidationError
from core.mail.presets import preset_for
from core.models.mail import MailServerUpdate
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.mail_servers import mail_server_row
from core.services.mail_tests import test_mail_server
from slackbot.blocks.server_modal import Target, TestResult, form_of, server_modal
from slackbot.listeners.views.server_form import STALE, error_message, parse


def _load(ctx: Context, target: Target) -> tuple[Tenant | None, bool]:
    with ctx.session() as session:
        tenant = session.get(Tenant, target.tenant_id)
        server = None
        if tenant is not None and target.server_id is not None:
            with contextlib.suppress(NotFound):  # deleted meanwhile: the test says so
                server = mail_server_row(session=session, tenant=tenant, server_id=target.server_id)
        return tenant, server is not None and server.password_enc is not None


async def run_server_test(ctx: Context, work: dict[str, Any], respond: Any, client: Any) -> None:
    """Follow-up work `modal_server_test` (slackbot.listeners.followup.WORK): the settings as
    typed, walked step by step (nothing saved), shown in the modal; or, for a preset, the form
    re-filled with the preset's host, port and security."""
    target = Target.parse(work.get("target"))
    if target is None:
        return
    typed: dict[str, str | None] = dict(work.get("typed") or {})
    tenant, has_password = await asyncio.to_thread(_load, ctx, target)
    slug = work.get("slug") or (tenant.slug if tenant is not None else "")
    where = {"view_id": work.get("view_id"), "hash": work.get("hash")}

    async def show(result: TestResult | None, shown: Target = target) -> None:
        view = server_modal(
            target=shown,
            tenant_slug=slug,
            form=form_of(typed, has_password=has_password),
            test=result,
        )
        answer = await client.views_update(**where, view=view)
        where["hash"] = (answer.get("view") or {}).get("hash")

    if work.get("refusal") or tenant is None:
        await show(TestResult(note=work.get("refusal") or STALE))
        return
    if work.get("preset"):
        filled = preset_for(typed.get("preset") or "")
        if filled:
            typed |= {
                name: str(filled[name])
                for name in ("host", "port", "security", "username")
                if name in filled
            }
            await show(None, replace(target, version=target.version + 1))
        return
    good, errors = parse(typed)
    if errors:
        await show(TestResult(note="✗ Fix first: " + "; ".join(errors.values())))
        return
    await show(TestResult(note=":hourglass_flowing_sand: Testing…"))
    actor = Actor(name=str(work.get("actor")), source="slack", tenant_scoped=bool(work["scoped"]))
    try:
        report = await test_mail_server(
            ctx=ctx,
            tenant=tenant,
            server_id=target.server_id,
            changes=MailServerUpdate.from_fields(good),
            actor=actor,
        )
    except MailbellError as exc:
        text = error_message(exc) if isinstance(exc, ValidationError) else exc.message
        await show(TestResult(note=f"✗ {text}"))
        return
    verdict = "✓ The connection works." if report.ok else "✗ The connection test failed."
    await show(TestResult(steps=report.steps, note=f"{verdict} Nothing was saved."))
