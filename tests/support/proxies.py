"""Proxies for tests: SOCKS5 (RFC 1928, user/password RFC 1929) and HTTP CONNECT on 127.0.0.1,
each in its own thread and event loop (usable from sync and async tests, and by the CLI).

    with TestProxy("socks5", users={"bob": "pw"}, names={"smtp.behind.test": "127.0.0.1"}) as px:
        px.url("socks5h", user="bob", password="pw")   # socks5h://bob:pw@127.0.0.1:PORT
        px.tunnels        # [(host as asked, port), …]: every tunnel it opened
        px.auth_failures  # credentials refused (wrong or missing)

`names`: host names only this proxy resolves (nothing else on the machine knows them), so a
mail server named so is reachable only through the proxy. IP literals are connected as given;
any other name is "host unreachable" (SOCKS5 reply 4; HTTP 502). `coalesce=True` (HTTP): the
proxy waits for the mail server's greeting and sends it in the same write as its `200`, so a
client that reads past the end of the proxy's answer loses the greeting (not for implicit TLS,
where the server waits for the client to speak first).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import threading
from typing import Any

__all__ = ["TestProxy"]


class TestProxy:
    __test__ = False

    def __init__(
        self,
        kind: str = "socks5",
        *,
        users: dict[str, str] | None = None,
        names: dict[str, str] | None = None,
        coalesce: bool = False,
    ) -> None:
        if kind not in ("socks5", "http"):
            raise ValueError(f"unknown proxy kind {kind!r}")
        self.kind = kind
        self.users = dict(users or {})
        self.names = {name.lower(): ip for name, ip in (names or {}).items()}
        self.coalesce = coalesce
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._tunnels: list[tuple[str, int]] = []
        self._auth_failures = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    # --- what tests look at ------------------------------------------------------------------

    @property
    def tunnels(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._tunnels)

    @property
    def auth_failures(self) -> int:
        with self._lock:
            return self._auth_failures

    def url(
        self, scheme: str | None = None, *, user: str | None = None, password: str | None = None
    ) -> str:
        scheme = scheme or self.kind
        userinfo = f"{user}:{password}@" if user and password else f"{user}@" if user else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}"

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> TestProxy:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"test-proxy-{self.kind}", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._loop = self._thread = None

    def __enter__(self) -> TestProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- the protocols -------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self.kind == "socks5":
                await self._socks5(reader, writer)
            else:
                await self._http(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # stop(): ends quietly (asyncio logs a cancelled handler)
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _resolve(self, host: str) -> str | None:
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(host))
        return self.names.get(host.lower())

    def _refused(self) -> None:
        with self._lock:
            self._auth_failures += 1

    async def _open(self, host: str, port: int) -> tuple[Any, Any] | None:
        address = self._resolve(host)
        if address is None:
            return None
        try:
            upstream = await asyncio.open_connection(address, port)
        except OSError:
            return None
        with self._lock:
            self._tunnels.append((host, port))
        return upstream

    async def _socks5(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5:
            return
        if self.users:
            if 2 not in methods:
                self._refused()
                writer.write(b"\x05\xff")
                return
            writer.write(b"\x05\x02")
            _, length = await reader.readexactly(2)
            user = (await reader.readexactly(length)).decode()
            (length,) = await reader.readexactly(1)
            password = (await reader.readexactly(length)).decode()
            if self.users.get(user) != password:
                self._refused()
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        else:
            writer.write(b"\x05\x00")
        _, command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        port = int.from_bytes(await reader.readexactly(2), "big")
        if command != 1:
            writer.write(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
            return
        if self._resolve(host) is None:
            writer.write(b"\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00")  # host unreachable
            return
        upstream = await self._open(host, port)
        if upstream is None:
            writer.write(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")  # connection refused
            return
        writer.write(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        await self._pipe(reader, writer, *upstream)

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        method, authority, _ = request.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        if self.users and not self._authorized(headers.get("proxy-authorization", "")):
            self._refused()
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
            )
            return
        host, _, port = authority.rpartition(":")
        upstream = await self._open(host.strip("[]"), int(port))
        if upstream is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        answer = b"HTTP/1.1 200 Connection established\r\n\r\n"
        if self.coalesce:  # the server speaks first: send its greeting with the answer
            answer += await asyncio.wait_for(upstream[0].read(65536), 5)
        writer.write(answer)
        await self._pipe(reader, writer, *upstream)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return False
        return self.users.get(user) == password

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        self._writers.add(up_writer)

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        try:
            await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        finally:
            self._writers.discard(up_writer)
