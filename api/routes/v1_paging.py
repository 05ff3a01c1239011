"""Query parameters shared by the `/api/v1` lists: `limit`, an opaque `cursor`, and times.

A cursor is the last id of the page before, encoded so that clients do not build it: the next
page is a keyset query (`id < last`, or `id > last` for a list that runs oldest first, as the
mail servers'), as fast deep in the log as at its start.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from aiohttp import web

from core.errors import NotFound, ValidationError
from core.validation import point_in_time
from core.vocabulary import ROW_ID_MAX

DEFAULT_LIMIT = 50
CURSOR_PREFIX = "id:"


def limit_of(request: web.Request, *, most: int) -> int:
    given = request.query.get("limit")
    if given is None:
        return DEFAULT_LIMIT
    if not (given.isascii() and given.isdigit()) or not 1 <= int(given[:8]) <= most:
        raise ValidationError("limit", f"must be a whole number from 1 to {most}")
    return int(given)


def cursor_of(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def before_id_of(request: web.Request) -> int | None:
    """The id a page continues from (None: the first page); 400 naming `cursor` otherwise.

    The id columns are 32-bit integers (ROW_ID_MAX): a larger number names no row (and
    overflows PostgreSQL's driver), so a cursor past it is not one of ours, and a path id past
    it (`path_id`) is an unknown id."""
    given = request.query.get("cursor")
    if not given:
        return None
    try:
        text = base64.urlsafe_b64decode(given + "=" * (-len(given) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not number.isdigit() or len(number) > 10:
        number = ""
    if not number or not 1 <= int(number) <= ROW_ID_MAX:
        raise ValidationError("cursor", "is not a cursor this API gave (use next_cursor as is)")
    return int(number)


def path_id(request: web.Request, what: str) -> int:
    """The `{id}` of the path; anything that cannot be a row's id is 404, as an unknown one."""
    raw = request.match_info["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not 1 <= int(raw) <= ROW_ID_MAX:
        raise NotFound(f"{what} {raw[:40]!r} does not exist")
    return int(raw)


def page(items: list[dict], ids: list[int], limit: int) -> dict:
    """`{"items", "next_cursor"}`: a full page may have a next one; a short page is the last."""
    return {"items": items, "next_cursor": cursor_of(ids[-1]) if len(ids) == limit else None}


def time_of(request: web.Request, name: str) -> datetime | None:
    """`?since=` / `?until=`: an ISO date or time (UTC unless it says) or an age (30m, 12h, 7d,
    2w: that long ago)."""
    given = request.query.get(name)
    if not given:
        return None
    try:
        return point_in_time(given)
    except ValueError:  # an age or an offset reaching before the year 1 too
        raise ValidationError(
            name, "must be an ISO date or time (2026-12-01, 2026-12-01T09:00Z) or an age (7d)"
        ) from None


def text_of(request: web.Request, name: str, *, most: int = 200) -> str | None:
    given = request.query.get(name)
    if given is None or given == "":
        return None
    if len(given) > most or not given.isprintable():
        raise ValidationError(name, f"must be printable text of at most {most} characters")
    return given
