"""Local SMTP sinks for the benchmarks, each in its own process so its CPU is not the client's,
and the ceiling a sink allows: raw aiosmtplib sending to it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

# The benchmarks' tenant sends to these; the ceiling sends to the same, so the two compare.
RECIPIENTS = "a@example.org,b@example.org,c@example.org"

SINKS = {
    "aiosmtpd": "aiosmtpd, as the tests and the other benchmarks use",
    "light": "a minimal SMTP responder (LightSink) that leaves the CPU to the workers",
}


class LightSink(asyncio.Protocol):
    """A minimal SMTP server: 250 to everything, the message's 250 after `delay_s`. About a
    quarter of aiosmtpd's CPU per message: on a small machine it leaves the CPU to the workers,
    as a remote server would (`--sink light`)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport
        self.buffer = b""
        self.in_data = False
        self.transport.write(b"220 sink.local ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                if self.delay_s:
                    loop = asyncio.get_running_loop()
                    loop.call_later(self.delay_s, self.transport.write, b"250 2.0.0 Ok\r\n")
                else:
                    self.transport.write(b"250 2.0.0 Ok\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            verb, self.buffer = self.buffer[:4].upper(), self.buffer[end + 2 :]
            if verb == b"EHLO":
                self.transport.write(b"250-sink.local\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # the terminator's CRLF may be DATA's own
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 Bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


def run_sink(
    port_pipe: Connection,
    *,
    delay_s: float = 0.0,
    kind: str = "aiosmtpd",
    record: str | None = None,
) -> None:
    """The sink process: accepts every message, after `delay_s` each, and sends its port through
    `port_pipe`. With `record` (aiosmtpd only), appends "message-id accept-time" lines to it."""
    if kind not in SINKS:
        raise ValueError(f"unknown sink {kind!r}: one of {', '.join(SINKS)}")
    if record and kind != "aiosmtpd":
        raise ValueError("only the aiosmtpd sink records what it accepts")
    from aiosmtpd.smtp import SMTP

    # Line-buffered: the sink gets SIGTERM before the file is read, so each line must be out.
    log = open(record, "a", buffering=1) if record else None  # noqa: SIM115

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            if delay_s:
                await asyncio.sleep(delay_s)
            if log is not None:
                data: bytes = envelope.content  # type: ignore[attr-defined]
                start = data.find(b"Message-ID: ") + 12
                end = data.find(b"\r\n", start)
                log.write(f"{data[start:end].decode()} {time.time()}\n")
            return "250 2.0.0 Ok"

    def factory() -> asyncio.Protocol:
        if kind == "light":
            return LightSink(delay_s)
        return SMTP(Sink(), hostname="sink.local", enable_SMTPUTF8=False)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port_pipe.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(serve())


def start_sink(
    *, delay_s: float = 0.0, kind: str = "aiosmtpd", record: str | None = None
) -> tuple[multiprocessing.Process, int]:
    """A sink (see `run_sink`) started in a daemon process, and the port it listens on."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(
        target=run_sink,
        args=(sender,),
        kwargs={"delay_s": delay_s, "kind": kind, "record": record},
        daemon=True,
    )
    process.start()
    sender.close()  # ours: so that a sink dying before it listens is an EOFError, not a hang
    port: int = receiver.recv()
    return process, port


def ceiling(port: int, total: int, *, warm_up: int = 0) -> float:
    """Messages a second raw aiosmtplib sends to the sink on `port` (8 reused connections, one
    pre-built QUEUE_SLA message to RECIPIENTS), after `warm_up` messages not counted."""
    from bench.smtp_pool import raw_aiosmtplib
    from core.catalog import sample
    from core.mail.mime import serialize
    from core.rendering import render

    recipients = RECIPIENTS.split(",")
    message = serialize(
        render("QUEUE_SLA", sample("QUEUE_SLA"), to=recipients, server_from="pbx@example.com")
    )
    if warm_up:
        asyncio.run(raw_aiosmtplib(port, warm_up, recipients, message))
    return asyncio.run(raw_aiosmtplib(port, total, recipients, message))
