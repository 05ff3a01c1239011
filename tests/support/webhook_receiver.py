"""A real webhook receiver: an aiohttp server on 127.0.0.1, in a thread of its own, that checks
each POST's signature the way a customer's receiver would (HMAC-SHA256 of `TIMESTAMP.BODY`).

Its own thread and event loop let synchronous callers (the CLI's `asyncio.run`, the worker run
from a test) reach it without sharing the test's loop. `answers` are the statuses to give,
in order (then 200); `received` is every POST, in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    signature_ok: bool | None  # None: the receiver has no secret (nothing to check)

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)  # type: ignore[no-any-return]


def expected_signature(secret: str, timestamp: str, raw: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookReceiver:
    def __init__(self, secret: str | None = None, answers: list[int] | None = None) -> None:
        self.secret = secret
        self.answers = list(answers or [])
        self.received: list[Received] = []
        self.url = ""
        self._arrived = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ok: bool | None = None
        if self.secret is not None:
            timestamp = request.headers.get("X-Mailbell-Timestamp", "")
            given = request.headers.get("X-Mailbell-Signature", "")
            ok = hmac.compare_digest(given, expected_signature(self.secret, timestamp, raw))
        with self._arrived:
            self.received.append(Received(request.path, dict(request.headers), raw, ok))
            status = self.answers.pop(0) if self.answers else 200
            self._arrived.notify_all()
        if ok is False:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=status, text="received" if status < 300 else "refused")

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` POSTs, once they have arrived (the timeout only ends a hung test)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    @contextmanager
    def running(self) -> Iterator[WebhookReceiver]:
        started = threading.Event()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}/hook"
            started.set()

        loop = asyncio.new_event_loop()
        self._loop = loop
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
        started.wait(10)
        try:
            yield self
        finally:
            assert self._runner is not None
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


@contextmanager
def webhook_receiver(
    secret: str | None = None, answers: list[int] | None = None
) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret, answers).running() as receiver:
        yield receiver
