"""The refusal rule itself, pure (standard library only, so read models use it too): the
same credentials are not refused more than twice an hour. core/mail/auth_guard.py applies it
to connections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.errors import DeliveryError

WINDOW = timedelta(hours=1)
MAX_REFUSALS = 2


def is_credentials_refusal(error: DeliveryError) -> bool:
    """The server refused the credentials themselves (not a temporary or policy answer)."""
    if error.step != "auth":
        return False
    return error.code == 535 or "5.7.8" in (error.reply or "")


def recent_refusals(stamps: Sequence[str], now: datetime) -> list[datetime]:
    """The refusal times within the window, oldest first (unreadable entries dropped)."""
    times = []
    for stamp in stamps:
        try:
            at = datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=now.tzinfo)
        if now - WINDOW < at <= now + WINDOW:  # a clock step backwards keeps recent ones
            times.append(at)
    return sorted(times)


def paused_until(stamps: Sequence[str], now: datetime) -> datetime | None:
    """When the credentials may be tried again, or None when they may be tried now."""
    recent = recent_refusals(stamps, now)
    if len(recent) < MAX_REFUSALS:
        return None
    # Enough refusals must leave the window to bring their number below the limit.
    return recent[len(recent) - MAX_REFUSALS] + WINDOW


def paused_message(address: str, username: str | None, until: datetime, server_id: int) -> str:
    who = f" as {username!r}" if username else ""
    return (
        f"{address} refused the credentials{who} {MAX_REFUSALS} times within an hour: they are "
        f"tried again at {until:%Y-%m-%d %H:%M} UTC, or as soon as they are changed "
        f"(`mailbell server edit {server_id} --password …`)"
    )
