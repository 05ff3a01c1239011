"""A file a message carries: what rendering puts in the message and previews name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """A file a message carries (core/attachments). `alternative`: also shown as a part of
    the message's body alternatives (an invitation's `text/calendar; method=REQUEST`)."""

    filename: str
    content_type: str  # maintype/subtype
    data: bytes
    alternative: bool = False
    params: tuple[tuple[str, str], ...] = ()  # extra Content-Type parameters (method=REQUEST)

    @property
    def size(self) -> int:
        return len(self.data)

    def shown(self) -> dict[str, Any]:
        """How previews and Slack name it: filename, type and size in bytes."""
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}
