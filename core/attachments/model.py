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


def file_size_text(size: int) -> str:
    """How previews and Slack give a file's size: 844 -> "844 bytes", 2150 -> "2.1 KB",
    3670016 -> "3.5 MB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
