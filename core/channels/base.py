"""The one interface every channel implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class ClaimedDelivery:
    """A delivery the worker holds a lease on, detached from any database session."""

    id: int
    tenant_id: int | None
    event: str
    channel: str
    target: str
    mail_server_id: int | None
    attempts: int
    sender: str
    pending: list[str]
    results: dict[str, Any]
    created_at: datetime
    content: bytes = b""  # still encrypted: the channel decrypts just before sending
    # Set by the pipeline: post as a reply under this message (core/pipeline/bursts.py).
    thread_under: str | None = None


@dataclass
class ChannelResult:
    """What the channel managed: per-recipient refusals with their reply codes."""

    accepted: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    reply: str | None = None
    message_ref: str | None = None  # the channel's id of the message posted (Slack's ts)


class Channel(Protocol):
    """Send one delivery. Raise RetryableError or PermanentError (core.errors); nothing else."""

    name: str

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult: ...

    async def close(self) -> None: ...
