"""`mailbell ssh` as the operator starts it, a process of its own over the environment's
MAILBELL_HOME and database (tests/ssh/test_server_process.py, bench/tui_ssh.py).

    process, port, fingerprint = await start_ssh()   # on a free port of 127.0.0.1
    children(process.pid)                            # its sessions' `mailbell tui --as` pids
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from pathlib import Path

from tests.support.ssh_console import WAIT_S

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+); host key (SHA256:\S+)")


async def start_ssh(timeout: float = WAIT_S) -> tuple[asyncio.subprocess.Process, int, str]:
    """The process, its port and its host key's fingerprint, from the line it prints once it
    listens (within `timeout` seconds)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailbell", "ssh", "--host", "127.0.0.1", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout)
    found = LISTENING.search(line)
    if not found:
        raise AssertionError(f"mailbell ssh did not start: {line!r}")
    return process, int(found[1]), found[2].decode()


def children(pid: int) -> set[int]:
    """The child processes of `pid` (Linux's /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found |= {int(p) for p in (task / "children").read_text().split()}
    return found
