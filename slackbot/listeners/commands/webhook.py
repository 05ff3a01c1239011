"""`/mailbell webhook list|add URL [EVENT…]|remove ID|test ID`: the channel tenant's webhooks.

A secret is never typed into Slack (the command's text passes through Slack): webhooks added
here POST unsigned, and one that must be signed is added with its secret from the CLI or the
HTTP API. `secret=…` is refused without being repeated. A tenant's admin is fenced (the URL's
host must be allowed by MAILBELL_TENANT_SMTP_NETWORKS), like the mail server host they set.
`test` POSTs after the ack and answers through `response_url`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.context import Context
from core.errors import NotFound, ValidationError
from core.models.tenancy import Tenant
from core.models.webhooks import WebhookCreate, WebhookRead
from core.services.tenants import get_tenant
from core.services.webhooks import add_webhook, list_webhooks, remove_webhook
from slackbot.blocks.common import escape
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage

USAGE = "webhook list | add URL [EVENT…] | remove ID | test ID"
MAX_ID_DIGITS = 20
NO_SECRET_HERE = (
    "a secret is never typed into Slack: add a signed webhook with its secret from the CLI "
    "(`mailbell webhook add … --secret -`) or the HTTP API"
)


def _listing(hooks: list[WebhookRead]) -> str:
    if not hooks:
        return "none"
    lines = []
    for hook in hooks:
        events = ", ".join(hook.events) or "every event"
        signed = "signed" if hook.has_secret else "unsigned"
        lines.append(f"• `{hook.id}` {escape(hook.url)} — {events} ({signed})")
    return "\n".join(lines)


def _webhook_id(word: str) -> int:
    raw = word.lstrip("#")
    if not (raw.isascii() and raw.isdigit()):  # isdigit alone accepts "²"
        raise ValidationError("webhook", f"{raw[:40]!r} is not a webhook id (a number)")
    if len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"webhook {raw[:MAX_ID_DIGITS]}… does not exist")
    return int(raw)


def webhook(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    action = request.args[0].lower() if request.args else "list"
    rest = request.args[1:]
    if action == "list" and not rest:
        hooks = list_webhooks(session=request.session, tenant=tenant)
        return Reply(text=f"Webhooks of {tenant.slug}:\n{_listing(hooks)}")
    if action == "add" and rest:
        return _add(request, tenant, rest[0], rest[1:])
    if action in ("remove", "test") and len(rest) == 1:
        webhook_id = _webhook_id(rest[0])
        if action == "test":
            hooks = list_webhooks(session=request.session, tenant=tenant)
            if not any(hook.id == webhook_id for hook in hooks):
                raise NotFound(f"webhook {webhook_id} does not exist for tenant {tenant.slug!r}")
            return Reply(
                text=f":hourglass_flowing_sand: Sending a test event to webhook {webhook_id}…",
                work={"kind": "webhook_test", "tenant": tenant.slug, "webhook": webhook_id},
            )
        removed = remove_webhook(
            session=request.session, tenant=tenant, webhook_id=webhook_id, actor=request.actor
        )
        summary = f"removed webhook {removed.id} ({escape(removed.url)}) of {tenant.slug}"
        return Reply(text=f":white_check_mark: You {summary}.", announce=f"{request.who} {summary}")
    return usage(USAGE)


def _add(request: CommandRequest, tenant: Tenant, url: str, events: list[str]) -> Reply:
    if any(word.lower().startswith(("secret=", "secret:")) for word in (url, *events)):
        raise ValidationError("secret", NO_SECRET_HERE)
    hook = add_webhook(
        session=request.session,
        box=request.ctx.box,
        tenant=tenant,
        data=WebhookCreate(url=url, events=events),
        actor=request.actor,
    )
    what = ", ".join(hook.events) or "every event"
    summary = f"added webhook {hook.id} ({escape(hook.url)}) for {what} of {tenant.slug}"
    return Reply(
        text=f":white_check_mark: You {summary}. Its POSTs are unsigned: {NO_SECRET_HERE}.",
        announce=f"{request.who} {summary}",
    )


async def run_webhook_test(
    ctx: Context, work: dict[str, Any], respond: Any, client: Any = None
) -> None:
    from core.services.webhooks import test_webhook

    def load_tenant() -> Tenant:
        with ctx.session() as session:
            return get_tenant(session=session, slug=work["tenant"])

    tenant = await asyncio.to_thread(load_tenant)  # database work stays off the event loop
    result = await test_webhook(ctx=ctx, tenant=tenant, webhook_id=work["webhook"])
    detail = escape(result.detail)
    if result.ok:
        text = f":white_check_mark: Webhook {work['webhook']} answered {result.status}: `{detail}`"
    else:
        text = f":x: Webhook {work['webhook']} test failed: `{detail}`"
    await respond(text=text, response_type="ephemeral", replace_original=False)


COMMANDS = {"webhook": Command(webhook)}
