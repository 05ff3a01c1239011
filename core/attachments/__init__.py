"""The files a message carries, built from its event's payload while it renders.

- `Attachment` (model.py): a file, or an alternative body part (an invitation's calendar).
- `attachments_for(event, payload, mail_from=...)`: the files of one message, from the event's
  builder (below), in the order they are attached. Events without a builder carry none.

Builders, one per event that has files, take the validated payload and the From address and
return the files; they run inside the render's locality (core/locality.py: `current_locality()`
gives the owner's zone and locale):
- VOICEMAIL_RECEIVED: the recording (files.py);
- CALL_REPORT_COMPLETED: the report file (files.py);
- CONFERENCE_INVITATION: the invitation, `text/calendar; method=REQUEST` (calendar.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from importlib import import_module
from typing import Any

from core.attachments.model import Attachment

Builder = Callable[..., Sequence[Attachment]]

# Event → "module:function" of its builder, imported on first use.
BUILDERS: dict[str, str] = {
    "VOICEMAIL_RECEIVED": "core.attachments.files:voicemail_files",
    "CALL_REPORT_COMPLETED": "core.attachments.files:call_report_files",
    "CONFERENCE_INVITATION": "core.attachments.calendar:invitation_files",
}


@cache
def _builder(event: str) -> Builder | None:
    spec = BUILDERS.get(event)
    if spec is None:
        return None
    module, _, function = spec.partition(":")
    found: Builder = getattr(import_module(module), function)
    return found


def attachments_for(event: str, payload: Any, *, mail_from: str) -> tuple[Attachment, ...]:
    """The files a message of `event` with `payload` carries (none for most events)."""
    builder = _builder(event)
    if builder is None:
        return ()
    return tuple(builder(payload, mail_from=mail_from))


__all__ = ["BUILDERS", "Attachment", "attachments_for"]
