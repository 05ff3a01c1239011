"""One error middleware: every failure becomes a JSON answer with the DESIGN §4 status.

| raised                               | status | body                                   |
| ------------------------------------ | ------ | -------------------------------------- |
| `core.errors.ValidationError`        | 400    | `{"error", "field"}`                   |
| `ApiError` (auth, body, names)       | as set | `{"error"[, "field"][, "scope"]}`      |
| `SystemOnlyField` (a tenant's ca_file) | 403   | `{"error", "field"}`                   |
| `core.errors.Forbidden`              | 403    | `{"error"}`                            |
| `core.errors.NotFound`               | 404    | `{"error"}`                            |
| `core.errors.Conflict`               | 409    | `{"error"}`                            |
| `core.errors.NotConfigured`          | 409    | `{"error", "field": "server"}`         |
| `core.errors.DeliveryError`          | 502    | `{"error", "step", "reply"}`           |
| `core.errors.StorageFullError`       | 507    | `{"error"}` (nothing was recorded)     |
| `core.errors.StorageReadOnlyError`   | 503    | `{"error"}` (nothing was recorded)     |
| a busy or locked database (`core.db_busy`) | 503 | `{"error"}`, `Retry-After: 1`        |
| body over 1 MiB (events: see below)  | 413    | `{"error"}`                            |
| aiohttp's 404 / 405                  | same   | `{"error"}` (405 keeps `Allow`)        |
| anything else                        | 500    | `{"error": "internal error", "request_id"}` |

A 500 is logged with its traceback and request id. `POST /api/events` takes a body of up to
one attachment of MAILBELL_ATTACHMENT_MAX_BYTES in base64 plus 1 MiB (`body_limit`).

Never a stack trace in an answer. Every answer carries `X-Request-Id`; each request is logged
once (method, route, status, duration, request id; never a header or a body) and counted in
`core.metrics.HTTP_REQUESTS`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from core import metrics
from core.db_busy import database_busy
from core.errors import (
    Conflict,
    DeliveryError,
    Forbidden,
    MailbellError,
    NotConfigured,
    NotFound,
    StorageError,
    StorageFullError,
    ValidationError,
)
from core.services.mail_server_fields import SystemOnlyField

log = logging.getLogger("mailbell.api")

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB; a larger body is answered 413
# `POST /api/events` takes more: one attachment of MAILBELL_ATTACHMENT_MAX_BYTES in base64.
EVENTS_PATH = "/api/events"
RETRY_AFTER_BUSY_S = "1"  # a lock is held for a transaction, rarely for longer than a second
REQUEST_ID = web.RequestKey("request_id", str)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ApiError(Exception):
    """An answer decided by the HTTP layer itself (401, 403, 404 names, 413, 415, 400 body)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}  # more keys of the answer's body (a 403's missing `scope`)


def events_body_limit(attachment_max_bytes: int) -> int:
    """The largest `POST /api/events` body: one maximal attachment in base64, plus 1 MiB."""
    return 4 * -(-attachment_max_bytes // 3) + MAX_BODY_BYTES


def body_limit(request: web.Request) -> int:
    """The largest body `request`'s route takes (the events route's follows the settings)."""
    if request.path == EVENTS_PATH and request.method == "POST":
        from api.db import CONTEXT

        return events_body_limit(request.app[CONTEXT].settings.attachment_max_bytes)
    return MAX_BODY_BYTES


def too_large(limit: int, length: int | None = None) -> ApiError:
    """413 for a body over `limit` (`length`: what its Content-Length announced)."""
    said = f"is larger than {limit} bytes"
    if length is not None:
        said = f"is {length} bytes; at most {limit}"
    if limit == MAX_BODY_BYTES:
        return ApiError(413, f"the body {said} (1 MiB)")
    why = "an attachment of MAILBELL_ATTACHMENT_MAX_BYTES in base64, plus 1 MiB"
    return ApiError(413, f"the body {said} ({why})")


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return body


def json_error(
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    return web.json_response(error_body(message, field, **extra), status=status, headers=headers)


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex[:16]


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> web.Response:
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    if exc.status == 413:
        message = f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)"
    elif exc.status == 404:
        message = f"no such endpoint: {request.method} {request.path}"
    elif exc.status == 405:
        message = f"method {request.method} is not allowed on {request.path}"
    else:
        message = exc.reason or "request refused"
    return json_error(exc.status, message, headers=headers)


def _answer(exc: BaseException, request: web.Request, request_id: str) -> web.Response:
    if isinstance(exc, ApiError):
        return json_error(
            exc.status, exc.message, field=exc.field, headers=exc.headers, **exc.extra
        )
    if isinstance(exc, SystemOnlyField):  # not the tenant's to set, whatever its value
        return json_error(403, exc.message, field=exc.field)
    if isinstance(exc, ValidationError):
        return json_error(400, exc.message, field=exc.field)
    if isinstance(exc, NotFound):
        return json_error(404, exc.message)
    if isinstance(exc, Forbidden):
        return json_error(403, exc.message)
    if isinstance(exc, Conflict):
        return json_error(409, exc.message)
    if isinstance(exc, NotConfigured):
        return json_error(409, exc.message, field="server")
    if isinstance(exc, DeliveryError):
        return json_error(502, exc.message, step=exc.step, reply=exc.reply)
    if isinstance(exc, StorageError):  # the operator must hear of it; the client may retry
        log.error("request failed: %s", exc, extra={"request_id": request_id, "path": request.path})
        return json_error(507 if isinstance(exc, StorageFullError) else 503, exc.message)
    if isinstance(exc, web.HTTPException):
        return _from_http_exception(exc, request)
    if (busy := database_busy(exc)) is not None:
        # Another writer holds the lock: nothing was recorded and trying again soon will
        # likely work. Logged with the reason only: the driver's message may quote parameters.
        log.warning("database busy: %s", busy, extra={"request_id": request_id})
        return json_error(
            503,
            f"database is busy ({busy}); nothing was recorded: try again",
            headers={"Retry-After": RETRY_AFTER_BUSY_S},
        )
    if isinstance(exc, MailbellError):  # e.g. the key ring cannot open a secret: not a bug
        log.error("request failed: %s", exc, extra={"request_id": request_id, "path": request.path})
        return json_error(500, exc.message, request_id=request_id)
    log.error(
        "internal error",
        exc_info=exc,
        extra={"request_id": request_id, "method": request.method, "path": request.path},
    )
    return json_error(500, "internal error", request_id=request_id)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        length = request.content_length
        if length is not None and length > (limit := body_limit(request)):
            raise too_large(limit, length)
        response = await handler(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        response = _answer(exc, request, request_id)
    response.headers["X-Request-Id"] = request_id
    route = _route(request)
    metrics.HTTP_REQUESTS.inc(request.method, route, str(response.status))
    log.info(
        "%s %s %s",
        request.method,
        route,
        response.status,
        extra={
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "status": response.status,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response
