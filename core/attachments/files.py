"""(being written)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.attachments.model import Attachment


def voicemail_files(payload: Any, *, mail_from: str) -> Sequence[Attachment]:
    return ()


def call_report_files(payload: Any, *, mail_from: str) -> Sequence[Attachment]:
    return ()
