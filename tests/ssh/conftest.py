"""The console's SSH server in the test's own event loop, on a free port of 127.0.0.1, over
the test's MAILBELL_HOME and database (each session's `mailbell tui --as` child inherits both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.config import Settings
from tui.ssh.server import ConsoleServer


@pytest.fixture
async def start_server(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """`await start_server(ssh_max_sessions=1, …)`: a running server with those settings."""
    servers: list[ConsoleServer] = []

    async def start(**limits: Any) -> ConsoleServer:
        server = ConsoleServer(settings.model_copy(update=limits))
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def server(start_server: Callable[..., Any]) -> ConsoleServer:
    return await start_server()
