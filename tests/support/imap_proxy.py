"""A counting relay in front of an IMAP server's plain port: how many logins reached the server
and how many it refused, read off the conversation itself (no log to wait for).

    proxy = ImapLoginCounter("127.0.0.1", dovecot.plain_port)
    port = await proxy.start()          # point an account at 127.0.0.1:port, TLS off
    ...
    proxy.refused, proxy.accepted, proxy.connections
    proxy.down = True                   # from now on: accept and hang up (a network fault)
    await proxy.close()

It runs on the test's event loop. A login is a client's `TAG LOGIN …` or `TAG AUTHENTICATE …`;
its outcome is the server's tagged answer, which the client can only see after the relay has
counted it, so the counts are final once the client's call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

_COMMAND = re.compile(rb"^([A-Za-z0-9]+) (LOGIN|AUTHENTICATE)\b", re.IGNORECASE)
_TAGGED = re.compile(rb"^([A-Za-z0-9]+) (OK|NO|BAD)\b", re.IGNORECASE)


class ImapLoginCounter:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0  # the relay's, once started
        self.down = False
        self.connections = 0
        self.attempts = 0
        self.accepted = 0
        self.refused = 0
        self._pending: set[bytes] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.down:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, self._client_line)),
            asyncio.create_task(self._pump(up_reader, writer, self._server_line)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            for side in (writer, up_writer):
                side.close()

    async def _pump(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        seen: Callable[[bytes], None],
    ) -> None:
        partial = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await source.read(65536):
                *lines, partial = (partial + chunk).split(b"\n")
                for line in lines:
                    seen(line)
                if len(partial) > 1000:  # a line that long is message data: never a match
                    partial = b"\0"
                sink.write(chunk)
                await sink.drain()

    def _client_line(self, line: bytes) -> None:
        found = _COMMAND.match(line)
        if found:
            self.attempts += 1
            self._pending.add(found.group(1))

    def _server_line(self, line: bytes) -> None:
        found = _TAGGED.match(line)
        if found and found.group(1) in self._pending:
            self._pending.discard(found.group(1))
            if found.group(2).upper() == b"OK":
                self.accepted += 1
            else:
                self.refused += 1


def dovecot_failed_logins(log: str, user: str) -> int:
    """Failed logins of `user` in a Dovecot log: each refused connection's `(auth failed, N
    attempts …): user=<USER>` line, written when the client hangs up."""
    pattern = rf"\(auth failed, (\d+) attempts? in \d+ secs?\): user=<{re.escape(user)}>"
    return sum(int(n) for n in re.findall(pattern, log))
