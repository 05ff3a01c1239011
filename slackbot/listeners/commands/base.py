"""What a subcommand gets and gives back.

Handlers are plain functions with one database session: they check, change and describe; the
router acknowledges with their reply, and the follow-up (a task started after the ack,
`slackbot.listeners.followup`) announces changes in the channel and does slow work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from core.context import Context
from core.models.slack import SlackChannelLink
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.slack import ChannelRef
from slackbot.text import mention


@dataclass
class CommandRequest:
    ctx: Context
    session: Session
    command: str  # "/mailbell"
    name: str  # the subcommand
    args: list[str]
    user_id: str
    team_id: str
    channel_id: str
    actor: Actor
    system_admin: bool
    channel: ChannelRef | None  # None: the channel is not linked
    _objects: tuple[SlackChannelLink, Tenant] | None = field(default=None, repr=False)

    @property
    def who(self) -> str:
        return mention(self.user_id)

    @property
    def tenant(self) -> Tenant | None:
        return self.linked()[1] if self.channel is not None else None

    def linked(self) -> tuple[SlackChannelLink, Tenant]:
        """The channel's link and tenant as session objects (made on first use)."""
        assert self.channel is not None  # the router checked
        if self._objects is None:
            self._objects = self.channel.attach(self.session)
        return self._objects


@dataclass
class Reply:
    """The ephemeral answer; `announce` goes to the channel; `work` is slow work for later;
    `modal` is a view opened with the command's trigger_id (the ack then says nothing unless
    `text` does)."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    announce: str | None = None
    work: dict[str, Any] | None = field(default=None)
    modal: dict[str, Any] | None = None

    @classmethod
    def of(cls, message: dict[str, Any], **kwargs: Any) -> Reply:
        return cls(text=message["text"], blocks=message.get("blocks"), **kwargs)


Handler = Callable[[CommandRequest], Reply]


@dataclass(frozen=True)
class Command:
    handler: Handler
    open_to_all: bool = False  # help
    system_only: bool = False  # link, unlink
    needs_link: bool = True  # every command acting on the channel's tenant


def usage(message: str) -> Reply:
    return Reply(text=f":information_source: Usage: `/mailbell {message}`")
