"""The channels mailbell knows, in the order emit writes their deliveries.

Registering a channel: its renderer here (`_RENDERERS`) and its sending side in
`build_channels`. Emit and the worker know channels only through this module.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from core.channels.base import Channel, ChannelResult, ClaimedDelivery, Renderer

if TYPE_CHECKING:
    from core.context import Context


@cache
def renderers() -> tuple[Renderer, ...]:
    from core.channels.email.render import EmailRenderer
    from core.channels.slack.render import SlackRenderer
    from core.channels.webhook.render import WebhookRenderer

    return (EmailRenderer(), SlackRenderer(), WebhookRenderer())


@cache
def _by_name() -> dict[str, Renderer]:
    return {renderer.name: renderer for renderer in renderers()}


def renderer(name: str) -> Renderer:
    return _by_name()[name]


def build_channels(ctx: Context, *, pool_size: int = 4) -> dict[str, Channel]:
    """The sending side of every channel that can send with this context's settings (Slack
    needs its bot token; a delivery of a channel left out fails, saying it is not configured)."""
    from core.channels.email.channel import EmailChannel
    from core.channels.webhook.channel import WebhookChannel

    channels: dict[str, Channel] = {
        EmailChannel.name: EmailChannel(ctx, pool_size=pool_size),
        WebhookChannel.name: WebhookChannel(ctx),
    }
    if ctx.settings.slack_bot_token:
        from core.channels.slack.channel import SlackChannel

        channels[SlackChannel.name] = SlackChannel(ctx)
    return channels


class _Minimal(Channel):
    """A channel object with only `send` and `close` (a test's stand-in), given the neutral
    capabilities of `Channel`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        result: ChannelResult = await self.inner.send(delivery)
        return result

    async def close(self) -> None:
        await self.inner.close()


def adopt(channel: Any) -> Channel:
    """`channel` as a `Channel`: subclasses as they are, anything else wrapped."""
    return channel if isinstance(channel, Channel) else _Minimal(channel)
