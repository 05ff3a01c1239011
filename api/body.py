"""Request bodies: `application/json`, at most 1 MiB (`POST /api/events`: more, see
`api.errors.body_limit`), one JSON object.

The fields' JSON types are checked against the request's model (`api.json_types`); a `null` is
the same as leaving the field out; any field the endpoint does not know is refused with 400
naming it.

The body is read on the event loop (`read_body`: 413) and decoded in the request's database
call, after the token check (`Body.json_object`: 415, 400). Decoding also refuses what
`json.loads` lets through but nothing later can handle: an integer too long for Python to
convert, and text that is not valid Unicode (`api.body_text`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api.body_text import refuse_unstorable_text
from api.errors import MAX_BODY_BYTES, ApiError, body_limit, too_large
from api.json_types import json_name

MAX_NUMBER_DIGITS = sys.get_int_max_str_digits()


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


@dataclass(frozen=True)
class Body:
    """A request body read off the socket, decoded later (after the token check)."""

    raw: bytes
    content_type: str
    content_type_header: str

    def json_object(self) -> dict[str, Any]:
        """The body as a dict: 415 unless JSON, 400 when malformed or not an object."""
        if not _is_json(self.content_type):
            raise ApiError(
                415,
                f"Content-Type must be application/json (got {self.content_type_header[:100]!r})",
                field="body",
            )
        try:
            data = json.loads(self.raw)
        except UnicodeDecodeError:
            raise ApiError(400, "malformed JSON: the body is not UTF-8", field="body") from None
        except json.JSONDecodeError as exc:
            raise ApiError(
                400,
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                field="body",
            ) from None
        except RecursionError:
            raise ApiError(400, "malformed JSON: nested too deeply", field="body") from None
        except ValueError:  # Python refuses to convert an integer of over 4,300 digits
            raise ApiError(
                400,
                f"malformed JSON: a number has more than {MAX_NUMBER_DIGITS} digits",
                field="body",
            ) from None
        if not isinstance(data, dict):
            raise ApiError(
                400, f"the body must be a JSON object, not {json_name(data)}", field="body"
            )
        refuse_unstorable_text(data)
        return data


CHUNK_BYTES = 256 * 1024


async def read_body(request: web.Request) -> Body:
    """The raw body (413 over the route's limit: 1 MiB, more for events); decode it with
    `Body.json_object()`."""
    limit = body_limit(request)
    if limit == MAX_BODY_BYTES:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large(limit) from None
    else:
        # Past the application's `client_max_size` (1 MiB): read the stream with this limit,
        # stopping as soon as it is over.
        received = bytearray()
        async for chunk in request.content.iter_chunked(CHUNK_BYTES):
            received += chunk
            if len(received) > limit:
                raise too_large(limit)
        raw = bytes(received)
    if len(raw) > limit:
        raise too_large(limit)
    return Body(raw, request.content_type, request.headers.get("Content-Type") or "none")
