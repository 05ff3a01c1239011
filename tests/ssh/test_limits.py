"""The console's limits: concurrent sessions, idle time, failed logins per address."""

from __future__ import annotations

import asyncio

import asyncssh
import pytest

from tests.support.console_keys import add_console_key, new_key_pair
from tests.support.ssh_console import Console, connect
from tests.tui.conftest import seed


async def test_a_session_over_the_limit_is_told_and_closed(
    ctx, actor, settings, start_server
) -> None:
    seed(ctx, actor)
    server = await start_server(ssh_max_sessions=1)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(server.port, alice.private_path) as first:
        await first.wait_for("tenant acme")
        async with Console.open(server.port, alice.private_path) as second:
            assert await second.exit_status() == 1
            assert b"too many sessions (1): try again later" in second.output
        assert "tenant acme" in first.text() and len(server.sessions) == 1


async def test_an_idle_session_is_told_and_closed(ctx, actor, settings, start_server) -> None:
    seed(ctx, actor)
    server = await start_server(ssh_idle_s=1.0)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(server.port, alice.private_path) as console:
        await console.exit_status()
        assert b"no input for 1 s: session closed" in console.output
    assert not server.sessions


async def test_failed_logins_close_the_addresss_next_connections(
    tmp_path, settings, start_server
) -> None:
    server = await start_server(ssh_auth_failures_per_minute=2)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with connect(server.port, alice.private_path):
        pass  # a good login is no failure
    # A connection that ends without logging in counts as a failure too.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    await reader.readline()  # the server's version line
    writer.close()
    await writer.wait_closed()
    stranger, _line = new_key_pair(tmp_path / "elsewhere", "stranger")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, stranger):
            pass
    await _until(lambda: server.failures.blocked("127.0.0.1"))
    with pytest.raises((asyncssh.DisconnectError, ConnectionError, OSError)):
        async with connect(server.port, alice.private_path):
            pass  # the right key, but this address is shut out for the rest of the minute


async def _until(condition, bound_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while not condition():
        assert loop.time() < deadline, "condition never held"
        await asyncio.sleep(0.02)
