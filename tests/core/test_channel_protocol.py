"""The channel protocol holds: the worker and emit name no channel and never probe a channel
object (`hasattr`/`getattr`), and every registered channel implements both halves."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from core.channels import base
from core.channels.base import Channel, ChannelResult, ClaimedDelivery, Renderer
from core.channels.registry import adopt, build_channels, renderer, renderers
from core.vocabulary import Channel as ChannelName

ROOT = Path(__file__).resolve().parents[2]
GENERIC = ["core/pipeline/worker.py", "core/pipeline/emit.py", "core/pipeline/emit_write.py"]


def _tree(path: str) -> ast.Module:
    return ast.parse((ROOT / path).read_text(), filename=path)


@pytest.mark.parametrize("path", GENERIC)
def test_no_channel_is_named(path: str) -> None:
    names = {channel.value for channel in ChannelName}
    found = [
        node.value
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]
    assert found == []
    attributes = [
        node.attr
        for node in ast.walk(_tree(path))
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "ChannelName"
        )
        or (isinstance(node, ast.Attribute) and node.attr in {"EMAIL", "SLACK", "WEBHOOK"})
    ]
    assert attributes == []
    imported = [
        node.module
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("core.channels.")
        and node.module not in ("core.channels.base", "core.channels.registry")
    ]
    assert imported == [], "only the protocol and the registry, never a channel's package"


@pytest.mark.parametrize("path", GENERIC)
def test_no_probing_of_channel_objects(path: str) -> None:
    probes = [
        ast.unparse(node)
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("hasattr", "getattr")
        and node.args
        and "channel" in ast.unparse(node.args[0]).lower()
    ]
    assert probes == []


def test_the_scanner_would_see_a_probe() -> None:
    """The two checks above catch what they look for (a worker written the old way)."""
    old = 'reserve = getattr(channel, "reserve_slot", None)\nif hasattr(email, "x"): pass'
    tree = ast.parse(old)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args]
    assert any("channel" in ast.unparse(c.args[0]) for c in calls)


def test_every_registered_channel_implements_both_halves(ctx) -> None:
    ctx.settings.slack_bot_token = "xoxb-test"
    channels = build_channels(ctx)
    names = {channel.value for channel in ChannelName}
    assert set(channels) == names
    assert {r.name for r in renderers()} == names
    for name, channel in channels.items():
        assert isinstance(channel, Channel) and channel.name == name
        assert type(channel).send is not Channel.send, f"{name} sends nothing"
        assert inspect.iscoroutinefunction(type(channel).send)
        assert renderer(name).name == name
        assert type(renderer(name)).rows is not Renderer.rows, f"{name} makes no rows"


async def test_the_neutral_defaults() -> None:
    class Bare(Channel):
        name = "bare"

        async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
            return ChannelResult(accepted=[])

    bare = Bare()
    delivery = ClaimedDelivery(1, None, "E", "bare", "t", None, 1, "", [], {}, base.datetime.now())
    bare.prepare([delivery])
    assert bare.rate_limit(delivery) == 0
    assert bare.reserve_slot("t", 2.0) == 0.0
    assert bare.threads_bursts is False
    await bare.close()


async def test_a_plain_object_is_adopted_with_the_defaults() -> None:
    class Plain:
        name = "email"

        async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
            return ChannelResult(accepted=list(delivery.pending), reply="250 ok")

        async def close(self) -> None:
            pass

    adopted = adopt(Plain())
    assert isinstance(adopted, Channel) and adopted.threads_bursts is False
    delivery = ClaimedDelivery(
        1, None, "E", "email", "a@b.c", None, 1, "", ["a@b.c"], {}, base.datetime.now()
    )
    assert (await adopted.send(delivery)).accepted == ["a@b.c"]
