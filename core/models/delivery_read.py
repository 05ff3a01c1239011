"""What the delivery log gives front ends: one row per delivery, or one delivery in full.

The field names are the public shapes of `deliveries list --json` (a row) and
`deliveries show --json` (the row's fields, with the history as `attempts` and the counter as
`attempt_count`); `as_json()` gives those shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class DeliveryAttemptRead(BaseModel):
    at: datetime
    outcome: str
    detail: str | None
    worker: str | None


class DeliveryRead(BaseModel):
    id: int
    event: str
    tenant: str | None  # slug; None for a system delivery
    channel: str
    target: str
    status: str
    attempts: int  # how many sends were tried
    last_error: str | None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return self.model_dump()


class DeliveryDetail(DeliveryRead):
    pending: list[str]  # recipients still to be sent to
    recipients: dict[str, Any]  # per-recipient outcome: {"status", "reply", …}
    reply: str | None
    next_attempt_at: datetime | None  # only while queued
    updated_at: datetime
    history: list[DeliveryAttemptRead]  # oldest first
    resent_from: int | None = None  # a re-sent copy's original
    digest_id: int | None = None  # a held delivery's digest
    edit_of: int | None = None  # a Slack edit's alert: the delivery whose message it changes

    def as_json(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"history", "attempts"})
        return {
            **{key: data[key] for key in _ROW_KEYS},
            "attempt_count": self.attempts,
            "pending": self.pending,
            "recipients": self.recipients,
            "reply": self.reply,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at,
            "attempts": [attempt.model_dump() for attempt in self.history],
            "resent_from": self.resent_from,
            "digest_id": self.digest_id,
            "edit_of": self.edit_of,
        }


_ROW_KEYS = [key for key in DeliveryRead.model_fields if key != "attempts"]
