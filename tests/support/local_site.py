"""Serve an aiohttp application on 127.0.0.1 (or `host`) at a free port, for the tests'
stand-in servers."""

from __future__ import annotations

from aiohttp import web


async def start_site(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    """The running application's runner (`cleanup()` stops it) and the port it listens on."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    server = site._server
    assert server is not None
    port: int = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port
