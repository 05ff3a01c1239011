"""Small Block Kit pieces shared by the builders; everything stays inside Slack's limits."""

from __future__ import annotations

from typing import Any

from core.channels.slack.blocks import MAX_BLOCKS, SECTION_TEXT_MAX, escape, truncate

Block = dict[str, Any]
Message = dict[str, Any]

__all__ = ["Block", "Message", "context", "divider", "escape", "message", "section"]


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX)},
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def divider() -> Block:
    return {"type": "divider"}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, 150)}}


def message(text: str, blocks: list[Block] | None = None) -> Message:
    """A message: the plain-text fallback (also the notification text) and optional blocks."""
    result: Message = {"text": truncate(text, 3000)}
    if blocks:
        result["blocks"] = blocks[:MAX_BLOCKS]
    return result
