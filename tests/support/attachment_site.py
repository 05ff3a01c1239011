"""A local HTTP server that serves voicemail recordings, and misbehaves on request.

async with AttachmentSite() as site:
    site.url("/rec.wav")          # http://127.0.0.1:PORT/rec.wav: 200, audio/wav, WAV
    site.url("/slow.wav")         # answers only after `slow_s` (or when the site closes)
    site.url("/big.wav")          # streams `big_bytes` with no Content-Length
    site.url("/declared-big.wav") # announces a Content-Length of `big_bytes`, sends little
    site.url("/missing.wav")      # 404
    site.url("/redirect/3")       # 302 → /redirect/2 → … → /rec.wav (N redirects)
    site.url("/page")             # 200 text/html (a login page, not a recording)
    site.hits["/rec.wav"]         # requests seen per path (query strings dropped)
    site.queries                  # the query strings seen
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import wave
from collections import Counter
from typing import Any

from aiohttp import web

from tests.support.local_site import start_site


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A real WAV file: `seconds` of a 8-bit mono ramp (not silence: the bytes vary)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(bytes(i % 256 for i in range(int(seconds * rate))))
    return buffer.getvalue()


class AttachmentSite:
    def __init__(
        self, *, host: str = "127.0.0.1", slow_s: float = 10.0, big_bytes: int = 256 * 1024
    ) -> None:
        self.host = host
        self.slow_s = slow_s
        self.big_bytes = big_bytes
        self.recording = wav_bytes()
        self.hits: Counter[str] = Counter()
        self.queries: list[str] = []
        self.big_sent = 0  # bytes of /big.wav actually written before the client went away
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    async def __aenter__(self) -> AttachmentSite:
        app = web.Application()
        app.router.add_get("/rec.wav", self._recording)
        app.router.add_get("/slow.wav", self._slow)
        app.router.add_get("/big.wav", self._big)
        app.router.add_get("/declared-big.wav", self._declared_big)
        app.router.add_get("/missing.wav", self._missing)
        app.router.add_get("/redirect/{left}", self._redirect)
        app.router.add_get("/page", self._page)
        app.middlewares.append(self._count)
        self._runner, self.port = await start_site(app, self.host)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits[request.path] += 1
        if request.query_string:
            self.queries.append(request.query_string)
        response: web.StreamResponse = await handler(request)
        return response

    async def _recording(self, request: web.Request) -> web.Response:
        return web.Response(body=self.recording, content_type="audio/wav")

    async def _slow(self, request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), self.slow_s)
        return web.Response(body=self.recording, content_type="audio/wav")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/wav"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\x80" * 16384
        try:
            while self.big_sent < self.big_bytes:
                await response.write(chunk)
                self.big_sent += len(chunk)
                await asyncio.sleep(0)
        except (ConnectionError, RuntimeError):
            return response  # the client stopped reading: what the test wants
        await response.write_eof()
        return response

    async def _declared_big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "audio/wav", "Content-Length": str(self.big_bytes)}
        )
        await response.prepare(request)
        try:
            await response.write(self.recording[:64])
            await asyncio.wait_for(self._release.wait(), self.slow_s)
        except (ConnectionError, RuntimeError, TimeoutError):
            pass
        return response

    async def _missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such recording")

    async def _redirect(self, request: web.Request) -> web.Response:
        left = int(request.match_info["left"])
        target = "/rec.wav" if left <= 1 else f"/redirect/{left - 1}"
        raise web.HTTPFound(target)

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>sign in</html>", content_type="text/html")
