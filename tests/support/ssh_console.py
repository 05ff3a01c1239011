"""A real SSH client for the console (`mailbell ssh`): asyncssh's, its output fed to pyte.

    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(port, alice.private_path) as console:   # a pty of 80x24
        await console.wait_for("acme")               # until the screen shows it
        await console.press("ctrl+s")
        console.text()                               # the screen, one string a row

- `Console.output`: every byte received, for messages written outside the screen's buffer.
- `wait_for` polls the screen (no timed assertion: it fails after a generous bound).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pyte

WAIT_S = 30.0  # a bound for slow CI machines, not a measured budget

KEYS = {
    "enter": "\r",
    "tab": "\t",
    "escape": "\x1b",
    "ctrl+s": "\x13",
    "ctrl+q": "\x11",
    "ctrl+c": "\x03",
    "down": "\x1b[B",
    "up": "\x1b[A",
}


def connect(port: int, key: Path | None, **options: Any) -> Any:
    """asyncssh.connect to the console on 127.0.0.1 with the private key file `key`
    (tests/support/console_keys.py), trusting any host key."""
    return asyncssh.connect(
        "127.0.0.1",
        port,
        username="anyone",
        client_keys=[str(key)] if key else [],
        known_hosts=None,
        agent_path=None,
        preferred_auth=options.pop("preferred_auth", "publickey"),
        **options,
    )


class Console:
    """One session: a pty of `size`, the screen as pyte sees it."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes], size: tuple[int, int]) -> None:
        self.process = process
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.output = bytearray()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        port: int,
        key: Path,
        size: tuple[int, int] = (80, 24),
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> AsyncIterator[Console]:
        """`env`: environment requests of the client (the server must ignore them);
        `options`: asyncssh.connect's (agent_forwarding=True, …)."""
        async with connect(port, key, **options) as conn:
            process = await conn.create_process(
                term_type="xterm-256color", term_size=size, encoding=None, env=env or {}
            )
            console = cls(process, size)
            try:
                yield console
            finally:
                console.process.close()
                with contextlib.suppress(Exception):
                    await console._reader

    async def _read(self) -> None:
        while True:
            data = await self.process.stdout.read(65536)
            if not data:
                return
            self.output += data
            self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    async def wait_for(self, *needles: str, gone: bool = False) -> str:
        """The screen once every needle is on it (or, `gone`, none of them is)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:
            text = self.text()
            present = [needle in text for needle in needles]
            if (not any(present)) if gone else all(present):
                return text
            if loop.time() > deadline or self._reader.done():
                raise AssertionError(f"waited for {needles!r} (gone={gone}); the screen:\n{text}")
            await asyncio.sleep(0.05)

    async def wait_output(self, needle: bytes) -> None:
        """Until `needle` was received (a message written after the TUI left the screen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while needle not in self.output:
            if loop.time() > deadline:
                raise AssertionError(f"never received {needle!r}: {bytes(self.output[-400:])!r}")
            await asyncio.sleep(0.05)

    async def type(self, text: str) -> None:
        self.process.stdin.write(text.encode())
        await asyncio.sleep(0)

    async def press(self, *keys: str) -> None:
        for key in keys:
            await self.type(KEYS.get(key, key))
            await asyncio.sleep(0.05)

    def resize(self, width: int, height: int) -> None:
        self.process.change_terminal_size(width, height)
        self.screen.resize(height, width)

    async def exit_status(self) -> int | None:
        await asyncio.wait_for(self.process.wait_closed(), WAIT_S)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, WAIT_S)
        return self.process.exit_status
