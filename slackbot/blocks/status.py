"""`/mailbell status`: the tenant at a glance (health first), with a button per event to switch
it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.channels.slack.blocks import format_time, truncate
from core.services.slack_status import HealthLine
from slackbot.blocks.common import (
    Block,
    Message,
    context,
    divider,
    escape,
    header,
    message,
    section,
)
from slackbot.blocks.health import health_blocks, health_summary

TOGGLE_ACTION_PREFIX = "mailbell_toggle:"


@dataclass(frozen=True)
class Toggle:
    short: str  # queue_call_lost
    field: str  # notify_queue_call_lost
    on: bool


def toggle_button(toggle: Toggle) -> Block:
    button: Block = {
        "type": "button",
        "action_id": TOGGLE_ACTION_PREFIX + toggle.field,
        "text": {"type": "plain_text", "text": "Disable" if toggle.on else "Enable"},
        "value": "off" if toggle.on else "on",
    }
    if not toggle.on:
        button["style"] = "primary"
    return button


def _server_line(
    server: dict[str, Any] | None, source: str | None, tenant: str, note: str | None = None
) -> str:
    # The use_system_server switch: what it does, or why it cannot (the core's words).
    why = f"\n:information_source: {escape(note)}" if note else ""
    if server is None:
        return (
            ":warning: *Mail server:* not configured — configure the mail server "
            f"(`mailbell settings set --tenant {escape(tenant)} server=HOST …`) or apply the "
            f"system server to all tenants.{why}"
        )
    where = "the tenant's own" if source == "tenant" else "the system server"
    line = (
        f"*Mail server:* {escape(server['name'])} — {escape(str(server['host']))}:"
        f"{server['port']} ({escape(server['security'])}), {where}"
    )
    problem = _login_problem(server)
    line += why
    return f"{line}\n:x: {problem}" if problem else line


def _login_problem(server: dict[str, Any]) -> str | None:
    """The server cannot log in: why, and the command that ends it."""
    from core.mail.auth_refusals import paused_until

    if server.get("auth_revoked_at") is not None:
        return (
            "*authorization revoked* — re-authorize: "
            f"`mailbell oauth authorize --server {server['id']}`"
        )
    until = paused_until(server.get("auth_refusals") or [], datetime.now(UTC))
    if until is not None:
        return (
            f"*credentials refused* — tried again at {until:%H:%M} UTC or when changed: "
            f"`mailbell server edit {server['id']} --password …`"
        )
    return None


def _failure_line(failure: dict[str, Any]) -> str:
    error = escape(truncate(failure["error"], 160))
    target = escape(truncate(failure["target"], 60))
    partial = " *partial*" if failure.get("status") == "partial" else ""
    return (
        f"• `{failure['id']}`{partial} {failure['event']} → {failure['channel']} {target}: "
        f"{error} ({format_time(failure['at'])})"
    )


def _inbox_line(inbox: Sequence[tuple[str, str]]) -> str:
    return "; ".join(
        f"{escape(account)} " + (f"from `{escape(pattern)}`" if pattern else "(every sender)")
        for account, pattern in inbox
    )


def status_message(
    *,
    tenant: str,
    server: dict[str, Any] | None,
    server_source: str | None,
    recipients: list[str],
    server_note: str | None = None,
    toggles: list[Toggle],
    routes: list[str],
    queued: int,
    failures: list[dict[str, Any]],
    inbox: Sequence[tuple[str, str]] = (),
    health: Sequence[HealthLine] | None = None,
) -> Message:
    """`inbox`: (account address, sender pattern; "" = every sender) this channel mirrors;
    `health`: the tenant's watched subjects (None: not shown)."""
    recipients_text = ", ".join(escape(a) for a in recipients) if recipients else "_none_"
    mirrored = "every tenant event" if "*" in routes else ", ".join(routes) or "nothing"
    blocks: list[Block] = [header(f"mailbell · {tenant}")]
    if health is not None:
        blocks += health_blocks(health, more_hint=f"mailbell health --tenant {tenant}")
    blocks += [
        section(_server_line(server, server_source, tenant, server_note)),
        section(f"*Recipients:* {recipients_text}"),
        section(f"*Queue:* {queued} waiting · *This channel mirrors:* {escape(mirrored)}"),
    ]
    if inbox:
        blocks.append(section(f"*New mail mirrored here:* {_inbox_line(inbox)}"))
    blocks.append(divider())
    for toggle in toggles:
        state = ":large_green_circle: on" if toggle.on else ":white_circle: off"
        blocks.append(section(f"*{toggle.short}* — {state}", accessory=toggle_button(toggle)))
    blocks.append(divider())
    if failures:
        lines = "\n".join(_failure_line(f) for f in failures)
        how = "`/mailbell retry ID`; a partial one: `/mailbell resend ID`"
        blocks.append(section(f"*Last failures* ({how}):\n{lines}"))
    else:
        blocks.append(context("No failed deliveries."))
    on = [t.short for t in toggles if t.on]
    fallback = (
        f"mailbell status for {tenant}: "
        f"{'mail server ' + str(server['host']) if server else 'mail server not configured'}; "
        f"recipients: {', '.join(recipients) or 'none'}; enabled: {', '.join(on) or 'none'}; "
        f"{queued} queued; {len(failures)} recent failure(s)"
    )
    if health is not None:
        fallback += f"; {health_summary(health)}"
    return message(fallback, blocks)
