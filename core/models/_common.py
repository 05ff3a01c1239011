from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC now: the UTC column type refuses naive datetimes."""
    return datetime.now(UTC)
