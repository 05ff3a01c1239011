"""`/mailbell events`: every event, whether it is on, and whether this channel mirrors it."""

from __future__ import annotations

from dataclasses import dataclass

from slackbot.blocks.common import Message, context, message, section


@dataclass(frozen=True)
class EventRow:
    short: str
    name: str
    scope: str  # tenant | system
    state: str  # on | off | always on | system
    mirrored: bool


def events_message(rows: list[EventRow]) -> Message:
    def line(row: EventRow) -> str:
        here = " · :speech_balloon: mirrored here" if row.mirrored else ""
        return f"`{row.short}` ({row.name}) — {row.state}{here}"

    tenant_rows = [line(r) for r in rows if r.scope == "tenant"]
    system_rows = [line(r) for r in rows if r.scope == "system"]
    blocks = [
        section("*Tenant events*\n" + "\n".join(tenant_rows)),
        section(
            "*System events* (settings: `mailbell settings set --system`)\n"
            + "\n".join(system_rows)
        ),
        context("`/mailbell enable|disable EVENT…` · `/mailbell route|unroute EVENT…|all`"),
    ]
    fallback = "Events: " + "; ".join(
        f"{r.short} {r.state}{' (mirrored here)' if r.mirrored else ''}" for r in rows
    )
    return message(fallback, blocks)
