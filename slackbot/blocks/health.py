"""Health in Slack: the lines of `/mailbell status`, the system's status outside a linked
channel, and the answers of the "Check now" and "Mute 24 h" buttons. Pure functions of
`HealthLine`s (core.services.slack_status): no database, no Slack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.channels.slack.blocks import format_time, truncate
from core.services.slack_status import HealthLine
from core.vocabulary import HEALTH_GLYPHS, HealthKind, HealthState
from slackbot.blocks.common import Block, Message, context, escape, header, message, section

HEALTHY = "✓ mail path healthy"
NOT_CHECKED = "? mail path not checked yet (`mailbell serve` checks it every few minutes)"
MAX_LINES = 6  # status stays compact; the rest is one command away
KIND_LABELS = {
    HealthKind.MAIL_SERVER: "mail server",
    HealthKind.EMAIL_ACCOUNT: "mailbox",
    HealthKind.SLACK: "Slack",
    HealthKind.BACKLOG: "queue",
    HealthKind.SERVICE: "service",
}


def health_line(line: HealthLine, *, now: datetime | None = None) -> str:
    """`✗ *critical* · Slack #C123 — posts fail: … · since …`, the action on a second line."""
    text = (
        f"{HEALTH_GLYPHS[line.state]} *{line.state.value}* · {KIND_LABELS[line.kind]} "
        f"{escape(truncate(line.subject, 80))}"
    )
    if line.reason:
        text += f" — {escape(truncate(line.reason, 200))}"
    text += f" · since {format_time(line.since)}"
    if line.muted_until is not None and (now is None or line.muted_until > now):
        text += f" · muted until {format_time(line.muted_until)}"
    if line.action and line.state != HealthState.OK:
        text += f"\n      ↳ {escape(truncate(line.action, 200))}"
    return text


def health_summary(lines: Sequence[HealthLine]) -> str:
    """One line for a message's plain-text fallback."""
    if not lines:
        return NOT_CHECKED
    bad = [line for line in lines if line.state != HealthState.OK]
    if not bad:
        return HEALTHY
    return f"health: {bad[0].state.value} ({len(bad)} subject(s) not ok)"


def health_blocks(
    lines: Sequence[HealthLine], *, more_hint: str, now: datetime | None = None
) -> list[Block]:
    """The not-ok subjects, worst first (at most MAX_LINES; `more_hint` says where the rest
    is), or one line when everything is ok or nothing was checked yet."""
    if not lines:
        return [context(NOT_CHECKED)]
    bad = sorted(
        (line for line in lines if line.state != HealthState.OK), key=lambda line: line.rank
    )
    if not bad:
        return [context(f"{HEALTHY} ({len(lines)} checked)")]
    shown = "\n".join(health_line(line, now=now) for line in bad[:MAX_LINES])
    text = f"*Health* ({len(lines) - len(bad)} ok):\n{shown}"
    if len(bad) > MAX_LINES:
        text += f"\n… and {len(bad) - MAX_LINES} more: `{more_hint}`"
    return [section(text)]


def system_status_message(lines: Sequence[HealthLine], *, now: datetime | None = None) -> Message:
    """`/mailbell status` of a system admin in a channel not linked to a tenant."""
    blocks = [
        header("mailbell · system"),
        *health_blocks(lines, more_hint="mailbell health --system", now=now),
        context("This channel is not linked to a tenant: `/mailbell link TENANT` links it."),
    ]
    return message(f"mailbell status for the system: {health_summary(lines)}", blocks)


def check_answer(line: HealthLine | None, *, latest: HealthState | None, key: str) -> str:
    """What "Check now" answers: the subject's state, and the newest result while it waits
    for a second agreeing one."""
    if line is None:
        return f":white_check_mark: Checked now: `{escape(key)}` is no longer watched."
    text = f":arrows_counterclockwise: Checked now: {health_line(line)}"
    if latest is not None and latest != line.state:
        text += (
            f"\nThe newest result is *{latest.value}*: the state changes when the next check "
            "agrees."
        )
    return text


def mute_answer(line: HealthLine, *, user_mention: str) -> str:
    return (
        f":mute: {KIND_LABELS[line.kind]} {escape(line.subject)}: alerts muted for 24 h by "
        f"{user_mention} (still checked and shown)."
    )
