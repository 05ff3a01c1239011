"""How values read in tables: times, badges, outcomes. Pure functions (snapshot tests pin `now`)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from core.vocabulary import DeliveryStatus

STATUS_STYLE: dict[str, str] = {
    DeliveryStatus.SENT: "green",
    DeliveryStatus.FAILED: "bold red",
    DeliveryStatus.QUEUED: "yellow",
    DeliveryStatus.SENDING: "cyan",
    DeliveryStatus.SUPPRESSED: "dim",
    DeliveryStatus.PARTIAL: "bold dark_orange",  # final, but someone did not get it
    DeliveryStatus.HELD: "magenta",
}


def now() -> datetime:
    return datetime.now(UTC)


def when(value: datetime | None, *, empty: str = "—") -> str:
    """`14:03:07` today, `05-12 14:03` this year, `2025-05-12` before; in UTC, like mailbell."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    current = now()
    if value.date() == current.date():
        return value.strftime("%H:%M:%S")
    if value.year == current.year:
        return value.strftime("%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def stamp(value: datetime | None) -> str:
    """A full UTC timestamp for detail views."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def status(value: str) -> Text:
    return Text(value, style=STATUS_STYLE.get(value, ""))


def outcome(ok: bool | None, *, when_: datetime | None = None) -> Text:
    """Last test result: ✓ / ✗ / never."""
    if ok is None:
        return Text("never tested", style="dim")
    mark = Text("✓ ok", style="green") if ok else Text("✗ failed", style="bold red")
    if when_ is not None:
        mark.append(f" {when(when_)}", style="dim")
    return mark


def yes(flag: bool, mark: str = "★") -> Text:
    return Text(mark, style="bold yellow") if flag else Text("")


def clip(value: str | None, width: int) -> str:
    if not value:
        return ""
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"
