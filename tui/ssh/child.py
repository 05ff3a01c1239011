"""A session's child: `mailbell tui --as NAME` in a pseudo-terminal of its own.

The child gets its own session with the pty's slave as controlling terminal, so a window change
(TIOCSWINSZ on the master) reaches it as SIGWINCH, and a hang-up reaches its whole process
group. Only the server's environment is passed on (plus TERM from the client's pty request and
MAILBELL_SSH_CLIENT): a client's environment requests are never honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import sys
import termios

from tui.data.session import SSH_CLIENT_ENV

KILL_AFTER_S = 2.0


def _controlling_terminal() -> None:
    """In the child, after setsid: the pty's slave (its stdin) becomes its controlling tty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_window_size(master: int, width: int, height: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def start_console(
    key_name: str, term: str, size: tuple[int, int], client: tuple[str, int]
) -> tuple[asyncio.subprocess.Process, int]:
    """The child and the pty's master (non-blocking; the caller closes it). OSError when the
    child cannot start (the master is closed then)."""
    master, slave = os.openpty()
    set_window_size(master, *size)
    os.set_blocking(master, False)
    env = dict(os.environ)
    for name in ("LINES", "COLUMNS"):  # would override the pty's size
        env.pop(name, None)
    env["TERM"] = term
    env[SSH_CLIENT_ENV] = f"{client[0]}:{client[1]}"
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mailbell", "tui", "--as", key_name,
            stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=_controlling_terminal,
        )  # fmt: skip
    except OSError:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return process, master


async def stop_console(process: asyncio.subprocess.Process) -> None:
    """Hang up on the child's process group (and SIGTERM it); SIGKILL after 2 s; reaped."""
    if process.returncode is not None:
        return
    for sig in (signal.SIGHUP, signal.SIGTERM):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), KILL_AFTER_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
