"""A local webhook receiver: a real aiohttp server that checks mailbell's signature.

    async with WebhookReceiver(secret="s3cret") as receiver:
        url = receiver.url("/hooks/a")                 # http://127.0.0.1:PORT/hooks/a
        receiver.script("/hooks/a", 503, 200)          # answers, in order; then 200 for good
        receiver.script("/hooks/b", (429, {"Retry-After": "2"}), 200)
        ...
        receiver.received("/hooks/a")                  # every POST: Received(path, status, ...)
        await receiver.wait_for(lambda: len(receiver.received()) == 2)

A POST is verified like a receiver should: `X-Mailbell-Signature` must be
`sha256=` HMAC-SHA256(secret, X-Mailbell-Timestamp + "." + raw body); `Received.verified` says
whether it was (None when the receiver has no secret for that path). Secrets per path:
`secret=` for every path, `secrets={path: secret}` to override.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.local_site import start_site

Step = int | tuple[int, dict[str, str]]


@dataclass
class Received:
    path: str
    status: int  # what the receiver answered
    headers: dict[str, str]
    body: bytes
    verified: bool | None
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookReceiver:
    def __init__(
        self,
        *,
        secret: str | None = None,
        secrets: dict[str, str | None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.secret = secret
        self.secrets = dict(secrets or {})
        self.host = host
        self.port = 0
        self._scripts: dict[str, list[Step]] = {}
        self._received: list[Received] = []
        self._runner: web.AppRunner | None = None

    # -- control ------------------------------------------------------------------------------

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def script(self, path: str, *steps: Step) -> None:
        """Answer the next POSTs to `path` with these statuses (optionally with headers)."""
        self._scripts.setdefault(path, []).extend(steps)

    def received(self, path: str | None = None) -> list[Received]:
        return [r for r in self._received if path is None or r.path == path]

    def forget(self) -> None:
        """Drop what was received so far (a long-running receiver: the benchmark's)."""
        self._received.clear()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the receiver did not get what was expected")
            await asyncio.sleep(0.01)

    # -- serving ------------------------------------------------------------------------------

    def _verify(self, path: str, request: web.Request, body: bytes) -> bool | None:
        secret = self.secrets.get(path, self.secret)
        if secret is None:
            return None
        timestamp = request.headers.get("X-Mailbell-Timestamp", "")
        given = request.headers.get("X-Mailbell-Signature", "")
        return bool(timestamp) and hmac.compare_digest(
            given, expected_signature(secret, timestamp, body)
        )

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        verified = self._verify(path, request, body)
        steps = self._scripts.get(path)
        step: Step = steps.pop(0) if steps else 200
        status, headers = (step, {}) if isinstance(step, int) else step
        if verified is False:  # what a real receiver does with a bad signature
            status, headers = 401, {}
        self._received.append(Received(path, status, dict(request.headers), body, verified))
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner, self.port = await start_site(app, self.host)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
