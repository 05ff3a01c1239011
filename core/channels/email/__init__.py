"""The email channel: `render` makes an event's messages at emit time (templates, MIME),
`channel` sends them through per-server SMTP pools (loaded only when used)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:  # the sending side, imported on first use (PEP 562)
    if name == "EmailChannel":
        from core.channels.email.channel import EmailChannel

        return EmailChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
