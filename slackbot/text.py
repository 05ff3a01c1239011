"""Slash command text as Slack sends it (with "escape users, channels and links" on).

`<mailto:a@b.example|a@b.example>` becomes the address, `<@U123|name>` stays a mention token,
`<#C123|name>` becomes the channel id, HTML entities are decoded; words split on spaces and
commas.
"""

from __future__ import annotations

import re

MAILTO = re.compile(r"<mailto:([^|>]+)(?:\|([^>]*))?>")
LINK = re.compile(r"<(https?://[^|>]+)(?:\|[^>]*)?>")
CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")
ANY_MENTION = re.compile(r"<@([UW][A-Z0-9]+)\|[^>]*>")
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
RAW_USER = re.compile(r"^@?([UW][A-Z0-9]{2,})$")
SPLIT = re.compile(r"[\s,;]+")


def unescape(text: str) -> str:
    text = MAILTO.sub(lambda m: m.group(2) or m.group(1), text)
    text = LINK.sub(lambda m: m.group(1), text)
    text = CHANNEL.sub(lambda m: m.group(1), text)
    text = ANY_MENTION.sub(lambda m: f"<@{m.group(1)}>", text)  # names may contain spaces
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def words(text: str) -> list[str]:
    """The command's words: `["recipients", "add", "a@b.example"]`."""
    return [word for word in SPLIT.split(unescape(text or "").strip()) if word]


def user_id(word: str) -> str | None:
    """`<@U123|name>`, `<@U123>`, `@U123` or `U123` → `U123`; anything else → None."""
    match = MENTION.match(word) or RAW_USER.match(word.upper() if word[:1] != "<" else word)
    return match.group(1) if match else None


def mention(user: str) -> str:
    return f"<@{user}>"
