"""The files of a voicemail (its recording) and of a call report (the report itself), from the
decoded bytes their payload carries (core/catalog_payloads.py `AttachedFile`, whose validation
already checked the type, filled in the name and kept the bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.attachments.model import Attachment
from core.catalog_payloads import AttachedFile


def _file(found: AttachedFile | None) -> list[Attachment]:
    # A URL not fetched (or not fetchable: `recording_error` says why) and a stored copy
    # validated again have no bytes: no file, the mail goes out without it.
    if found is None or found.content is None:
        return []
    return [
        Attachment(
            filename=found.filename or "file",
            content_type=found.content_type or "application/octet-stream",
            data=found.content,
        )
    ]


def voicemail_files(payload: Any, *, mail_from: str) -> Sequence[Attachment]:
    """VOICEMAIL_RECEIVED: the recording, when the payload carries its bytes."""
    return _file(getattr(payload, "recording", None))


def call_report_files(payload: Any, *, mail_from: str) -> Sequence[Attachment]:
    """CALL_REPORT_COMPLETED: the report file, when the payload carries it."""
    return _file(getattr(payload, "report_file", None))
