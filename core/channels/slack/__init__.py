"""The Slack channel: alerts and mirrored inbound emails posted with `chat.postMessage`, and
alerts edited in place with `chat.update`.

`blocks` and `inbox_blocks` build the Block Kit messages, `status_blocks` the status line an
edit adds, `render` makes an event's Slack deliveries at emit time, `channel` posts them. The
sending side (aiohttp) loads only when used.
"""

from __future__ import annotations

from typing import Any

_SENDING = ("ChannelPacer", "SlackChannel", "SlackRateLimited", "classify")


def __getattr__(name: str) -> Any:  # the sending side, imported on first use (PEP 562)
    if name in _SENDING:
        from core.channels.slack import channel

        return vars(channel)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
