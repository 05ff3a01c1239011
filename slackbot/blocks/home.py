"""The App Home tab: each tenant the user administers at a glance, with its buttons.

A pure function of `HomeOverview` (core.services.slack_home). Slack allows 100 blocks in a Home
view; a tenant takes at most 4 (its summary, its toggles, its failures and their Retry buttons)
plus a divider, so 20 tenants fit, and when they would not (every tenant with failures) the
Retry buttons join the toggles' actions block (at most 6 + 5 elements of 25).
"""

from __future__ import annotations

from typing import Any

from core.channels.slack.blocks import format_time, truncate
from core.services.slack_home import HomeFailure, HomeHealth, HomeOverview, HomeTenant
from core.vocabulary import HEALTH_GLYPHS, HealthState
from slackbot.blocks.common import Block, context, divider, escape, header, section
from slackbot.blocks.health import KIND_LABELS

HOME_MAX_BLOCKS = 100
FIELD_MAX = 2000
TOGGLE_PREFIX = "mailbell_home_toggle:"  # + TENANT_ID:FIELD, value "on"/"off" (the new state)
RETRY_PREFIX = "mailbell_home_retry"  # + ":DELIVERY_ID" (unique in its block), value the id
ABOUT = (
    "*mailbell* sends your PBX's notifications (voicemail, lost calls, queue alerts, health "
    "alerts) by email and into Slack channels, and watches that the mail gets through."
)
NO_ACCESS = (
    "You do not administer any tenant in mailbell, so there is nothing to show here.\n"
    "*To get access*, ask a mailbell system admin to add you: `/mailbell admins add @you` in "
    "the tenant's Slack channel (or `mailbell slack admin add USER_ID --tenant SLUG` on the "
    "server); system admins are listed in `MAILBELL_SLACK_ADMINS`."
)


def home_view(
    overview: HomeOverview, *, is_system_admin: bool, notice: str | None = None
) -> dict[str, Any]:
    """The `home` view to publish; `notice` (the answer to the user's last button press, e.g.
    a refusal) is shown at the top."""
    blocks: list[Block] = [header("mailbell")]
    if notice:
        blocks.append(context(notice))
    if not overview.administers_any:
        blocks += [section(ABOUT), section(NO_ACCESS)]
        return {"type": "home", "blocks": blocks}
    blocks += _intro(overview, is_system_admin=is_system_admin)
    tail = [_more(overview.more)] if overview.more else []
    tenants = [_tenant_blocks(t, compact=False) for t in overview.tenants]
    if _count(blocks, tenants, tail) > HOME_MAX_BLOCKS:
        tenants = [_tenant_blocks(t, compact=True) for t in overview.tenants]
    for n, group in enumerate(tenants):
        if n:
            blocks.append(divider())
        blocks += group
    blocks += tail
    return {"type": "home", "blocks": blocks[:HOME_MAX_BLOCKS]}


def _count(head: list[Block], tenants: list[list[Block]], tail: list[Block]) -> int:
    dividers = max(len(tenants) - 1, 0)
    return len(head) + sum(len(group) for group in tenants) + dividers + len(tail)


def _intro(overview: HomeOverview, *, is_system_admin: bool) -> list[Block]:
    total = len(overview.tenants) + overview.more
    if is_system_admin:
        text = f"You are a *system admin*: every tenant ({total}), worst health first."
        if overview.system_health is not None:
            text += f"\n*System:* {_health_text(overview.system_health)}"
    else:
        text = f"Tenants you administer ({total}), worst health first."
    text += "\nCounts are of the deliveries created in the last 24 h."
    return [context(text)]


def _more(more: int) -> Block:
    return context(
        f"… and {more} more tenant{'s' if more != 1 else ''} — use `/mailbell status` in "
        "their channels."
    )


def _health_text(health: HomeHealth) -> str:
    if health.worst is None:
        return "? not checked yet"
    glyph = HEALTH_GLYPHS[health.worst]
    if health.worst == HealthState.OK:
        return f"{glyph} ok ({health.checked} checked)"
    text = f"{glyph} *{health.worst.value}*"
    if health.kind is not None:
        text += f" · {KIND_LABELS[health.kind]} {escape(truncate(health.subject, 80))}"
    if health.reason:
        text += f" — {escape(truncate(health.reason, 160))}"
    return text + f" ({health.not_ok} of {health.checked} not ok)"


def _server_text(tenant: HomeTenant) -> str:
    server = tenant.server
    if server is None:
        text = ":warning: *Mail server:* not configured"
    else:
        where = "own" if server.source == "tenant" else "system"
        text = (
            f"*Mail server:* {where} — {escape(truncate(server.name, 80))}, "
            f"{escape(truncate(server.host, 120))}:{server.port} ({escape(server.security)})"
        )
    if tenant.server_note:
        text += f"\n:information_source: {escape(tenant.server_note)}"
    return text


def _summary(tenant: HomeTenant) -> Block:
    title = f"*{escape(tenant.slug)}*"
    if tenant.name and tenant.name != tenant.slug:
        title += f" · {escape(truncate(tenant.name, 100))}"
    block = section(f"{title}\n*Health:* {_health_text(tenant.health)}\n{_server_text(tenant)}")
    block["block_id"] = f"home_tenant:{tenant.id}"
    block["fields"] = [
        {"type": "mrkdwn", "text": truncate(f"*{label}*\n{value}", FIELD_MAX)}
        for label, value in (
            ("Sent (24 h)", tenant.sent),
            ("Failed (24 h)", tenant.failed),
            ("Queued (24 h)", tenant.queued),
        )
    ]
    return block


def _toggle_button(tenant: HomeTenant, short: str, field: str, on: bool) -> Block:
    button: Block = {
        "type": "button",
        "action_id": f"{TOGGLE_PREFIX}{tenant.id}:{field}",
        # the word says the state; the colour only repeats it
        "text": {"type": "plain_text", "text": f"{short}: {'on' if on else 'off'}"},
        "value": "off" if on else "on",
    }
    if on:
        button["style"] = "primary"
    return button


def _retry_button(failure: HomeFailure) -> Block:
    return {
        "type": "button",
        "action_id": f"{RETRY_PREFIX}:{failure.id}",
        "text": {"type": "plain_text", "text": f"Retry {failure.id}"},
        "value": str(failure.id),
    }


def _failure_line(failure: HomeFailure) -> str:
    partial = " *partial* (final: `/mailbell resend ID`)" if not failure.retryable else ""
    return (
        f"• `{failure.id}`{partial} {escape(failure.event)} → {escape(failure.channel)} "
        f"{escape(truncate(failure.target, 60))}: {escape(truncate(failure.error, 160))} "
        f"({format_time(failure.at)})"
    )


def _tenant_blocks(tenant: HomeTenant, *, compact: bool) -> list[Block]:
    toggles = [_toggle_button(tenant, t.short, t.field, t.on) for t in tenant.toggles]
    retries = [_retry_button(f) for f in tenant.failures if f.retryable]
    blocks = [_summary(tenant)]
    actions: Block = {"type": "actions", "block_id": f"home_toggles:{tenant.id}"}
    actions["elements"] = toggles + retries if compact else toggles
    blocks.append(actions)
    if not tenant.failures:
        return blocks
    lines = "\n".join(_failure_line(f) for f in tenant.failures)
    failures = section(f"*Last failures (24 h):*\n{lines}")
    failures["block_id"] = f"home_failures:{tenant.id}"
    blocks.append(failures)
    if retries and not compact:
        blocks.append(
            {"type": "actions", "block_id": f"home_retry:{tenant.id}", "elements": retries}
        )
    return blocks
