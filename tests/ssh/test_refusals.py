"""What the console refuses: unknown keys, passwords, commands, SFTP, a session without a
terminal, forwarding; and OpenSSH's own client gets the TUI like asyncssh's."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import shutil

import asyncssh
import pytest

from core.ssh_keys import remove_key
from tests.support.console_keys import add_console_key, new_key_pair
from tests.support.ssh_console import WAIT_S, connect
from tests.tui.conftest import seed


async def test_an_unknown_key_is_refused(tmp_path, settings, server) -> None:
    add_console_key(settings, "alice", "tenant-admin", ["acme"])
    stranger, _line = new_key_pair(tmp_path / "elsewhere", "stranger")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, stranger):
            pass


async def test_a_removed_key_cannot_log_in_again(settings, server) -> None:
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with connect(server.port, alice.private_path):
        pass
    remove_key(settings.ssh_keys_file, "alice")
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(server.port, alice.private_path):
            pass


async def test_password_and_keyboard_interactive_logins_are_refused(settings, server) -> None:
    add_console_key(settings, "alice", "tenant-admin", ["acme"])
    for method in ("password", "keyboard-interactive"):
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(server.port, None, password="hunter2", preferred_auth=method):
                pass


async def test_commands_sftp_no_terminal_and_forwarding_are_refused(settings, server) -> None:
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with connect(server.port, alice.private_path) as conn:
        result = await conn.run("cat /etc/passwd")
        assert result.exit_status == 1
        assert "serves only its terminal UI" in result.stdout
        assert "root:" not in result.stdout
    async with connect(server.port, alice.private_path) as conn:
        with pytest.raises(asyncssh.ChannelOpenError, match="request failed"):
            async with conn.start_sftp_client() as sftp:
                await sftp.listdir(".")
    async with connect(server.port, alice.private_path) as conn:
        result = await conn.run()  # a shell, no pty
        assert result.exit_status == 1
        assert "needs a terminal (ssh -t)" in result.stdout
    async with connect(server.port, alice.private_path) as conn:
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 22)
    assert not server.sessions


@pytest.mark.skipif(shutil.which("ssh") is None, reason="OpenSSH's client is not installed")
async def test_openssh_client_gets_the_tui(ctx, actor, settings, server) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    master, slave = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        shutil.which("ssh") or "ssh",
        "-tt",
        "-i",
        str(alice.private_path),
        "-p",
        str(server.port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-F",
        "/dev/null",
        "someone@127.0.0.1",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    os.set_blocking(master, False)
    received = bytearray()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    try:
        while b"alice@127.0.0.1" not in received:
            assert loop.time() < deadline, f"no TUI over OpenSSH: {bytes(received[-600:])!r}"
            with contextlib.suppress(BlockingIOError):
                received += os.read(master, 65536)
            await asyncio.sleep(0.05)
        assert b"tenant acme" in received
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()
        os.close(master)
    deadline = loop.time() + WAIT_S
    while server.sessions:
        assert loop.time() < deadline, "the session outlived OpenSSH's client"
        await asyncio.sleep(0.05)
