"""`mailbell ssh` as the operator runs it: the host key made once (0600) and its fingerprint
printed at each start; SIGTERM ends every session and exits 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import asyncssh
import pytest

from tests.support.console_keys import add_console_key
from tests.support.ssh_console import WAIT_S, Console
from tests.support.ssh_process import ROOT, children, start_ssh
from tests.tui.conftest import seed


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), WAIT_S)


async def test_the_host_key_is_made_once_and_sigterm_ends_every_session(
    ctx, actor, settings
) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    process, port, fingerprint = await start_ssh()
    try:
        host_key = settings.ssh_host_key_file
        assert host_key.stat().st_mode & 0o777 == 0o600
        assert asyncssh.read_private_key(str(host_key)).get_fingerprint("sha256") == fingerprint
        async with Console.open(port, alice.private_path) as console:
            await console.wait_for("tenant acme")
            [child] = children(process.pid)
            assert await _stop(process) == 0
            await console.exit_status()
            assert b"the server is stopping" in console.output
        assert not os.path.exists(f"/proc/{child}")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    again, _port, same = await start_ssh()
    assert same == fingerprint
    assert await _stop(again) == 0


async def test_serve_with_ssh_runs_the_console_beside_the_api(ctx, actor, settings) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailbell", "serve", "--port", "0", "--no-worker",
        "--ssh", "--ssh-host", "127.0.0.1", "--ssh-port", "0",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        port = 0
        while not port:
            line = await asyncio.wait_for(process.stderr.readline(), WAIT_S)
            assert line, "serve ended before the SSH console listened"
            found = re.search(rb"ssh: listening on 127\.0\.0\.1:(\d+)", line)
            port = int(found[1]) if found else 0
        async with Console.open(port, alice.private_path) as console:
            await console.wait_for("tenant acme", "alice@127.0.0.1")
            process.send_signal(signal.SIGTERM)
            await console.exit_status()
            assert b"the server is stopping" in console.output
        assert await asyncio.wait_for(process.wait(), WAIT_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_an_unreadable_host_key_is_an_error_naming_it(tmp_path) -> None:
    from core.errors import ValidationError
    from tui.ssh.server import load_host_key

    broken = tmp_path / "host_key"
    broken.write_text("not a key\n")
    with pytest.raises(ValidationError, match=r"MAILBELL_SSH_HOST_KEY: .*host_key"):
        load_host_key(broken)
    assert broken.read_text() == "not a key\n"  # never replaced: clients trust the old one
