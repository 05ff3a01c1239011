"""Slow and idle HTTP clients are cut off; the process gets every file descriptor it may have.

aiohttp 3.14 has one client timeout, `keepalive_timeout` (idle between requests, and before
the first one). A client that sends half a request line and then waits, or a body one byte at
a time, holds its connection (and a file descriptor) for as long as it likes. So each
connection here carries two deadlines of its own:

- header: the request line and headers complete within `header_s` of the connection opening
  (or of the first byte of the next request on a kept-alive connection);
- body: a request's body arrives within `body_s` of its headers.

A client past the header deadline is disconnected without an answer and without a log line
(300 of them must not flood the log). Past the body deadline, the handler's read of the body
fails with 408 Request Timeout, answered as usual, and the connection closes. Idle kept-alive
connections close after `keepalive_s` (aiohttp's own timer). Defaults 10/30/75 s;
MAILBELL_HTTP_HEADER_TIMEOUT_S, MAILBELL_HTTP_BODY_TIMEOUT_S and
MAILBELL_HTTP_KEEPALIVE_TIMEOUT_S override them.

Imported by `mailbell.serve` when the server starts (it imports aiohttp).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("mailbell.serve")

TIMEOUT_VARIABLES = {
    "header_s": "MAILBELL_HTTP_HEADER_TIMEOUT_S",
    "body_s": "MAILBELL_HTTP_BODY_TIMEOUT_S",
    "keepalive_s": "MAILBELL_HTTP_KEEPALIVE_TIMEOUT_S",
}


@dataclass(frozen=True)
class HttpTimeouts:
    header_s: float = 10.0
    body_s: float = 30.0
    keepalive_s: float = 75.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HttpTimeouts:
        """The defaults, overridden by the MAILBELL_HTTP_*_TIMEOUT_S variables that are set.

        Raises ValueError naming the variable and the rule for a value that is not a
        positive number of seconds."""
        environ = os.environ if environ is None else environ
        values: dict[str, float] = {}
        for field, variable in TIMEOUT_VARIABLES.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{variable} must be a positive number of seconds, not {raw!r}")
            values[field] = value
        return cls(**values)


class GuardedRequestHandler(RequestHandler):
    """aiohttp's connection protocol with the header and body deadlines.

    Reads aiohttp's own state (`_request_count`, `_messages`, `_request_in_progress`), which
    is why aiohttp is pinned in constraints.txt; tests/api/test_slow_clients.py proves it."""

    def __init__(self, manager: web.Server, *, timeouts: HttpTimeouts, **kwargs: Any) -> None:
        kwargs["keepalive_timeout"] = timeouts.keepalive_s
        super().__init__(manager, **kwargs)
        self._timeouts = timeouts
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body: Any = None  # the payload of the last request whose headers arrived

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        receiving_body = self._body is not None and not self._body.is_eof()
        if data and self._head_timer is None and not receiving_body:
            self._arm_head_timer()  # the first bytes of the next request on this connection
        heads_before = self._request_count
        super().data_received(data)
        if self._request_count == heads_before:
            return
        self._cancel_timers()
        payload = self._messages[-1][1] if self._messages else None
        if payload is not None and not payload.is_eof():
            self._body = payload
            self._body_timer = self._loop.call_later(self._timeouts.body_s, self._body_late)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timers()
        self._body = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_timer = self._loop.call_later(self._timeouts.header_s, self._head_late)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._request_in_progress:
            # The next request's first bytes came while this one is being answered:
            # its headers get their full time once the answer is out.
            self._arm_head_timer()
            return
        self.force_close()

    def _body_late(self) -> None:
        self._body_timer = None
        if self._body is None or self._body.is_eof():
            return
        if not self._request_in_progress:  # answered already; only aiohttp's lingering reads
            self.force_close()
            return
        # The handler is (or will be) reading the body: its read fails with a 408, which the
        # API answers like any client error, and the connection closes after that answer
        # instead of lingering for the rest of a body that is not coming.
        self._lingering_time = 0.0
        self._body.set_exception(
            web.HTTPRequestTimeout(text=f"the request body took over {self._timeouts.body_s:g} s")
        )
        self.close()


class GuardedServer(web.Server):
    """aiohttp's low-level server, building `GuardedRequestHandler` connections."""

    def __init__(self, *args: Any, timeouts: HttpTimeouts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts = timeouts

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, timeouts=self.timeouts, **self._kwargs)


class GuardedAppRunner(web.AppRunner):
    """`web.AppRunner` whose server is a `GuardedServer` (same handler, factory and options)."""

    def __init__(self, app: web.Application, *, timeouts: HttpTimeouts, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.timeouts = timeouts

    async def _make_server(self) -> web.Server:
        built = await super()._make_server()
        return GuardedServer(
            built.request_handler,
            request_factory=built.request_factory,
            handler_cancellation=built.handler_cancellation,
            loop=built._loop,
            timeouts=self.timeouts,
            **built._kwargs,
        )


def raise_open_files_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit (every idle client holds a descriptor).

    Returns (soft, hard) as they are afterwards; a refusal leaves the soft limit as it was."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError) as exc:
            log.warning("could not raise the open-files limit from %s to %s: %s", soft, hard, exc)
    return soft, hard
