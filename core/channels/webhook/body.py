"""The JSON a webhook receives: {"event", "tenant", "data", "delivery_id", "occurred_at"}."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def webhook_body(
    *,
    event: str,
    tenant: str | None,
    data: dict[str, Any],
    delivery_id: int | None,
    occurred_at: datetime,
) -> bytes:
    """The raw body (the signature covers these exact bytes)."""
    document = {
        "event": event,
        "tenant": tenant,
        "data": data,
        "delivery_id": delivery_id,
        "occurred_at": occurred_at.isoformat(),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
