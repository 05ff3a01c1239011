"""Slow and idle clients against a real `mailbell serve`: they are disconnected on time, they
cannot starve `/healthz` of file descriptors for longer than that, and the log stays short.

The timeouts are shortened through MAILBELL_HTTP_*_TIMEOUT_S to keep the tests short; their
defaults (10/30/75 s) are checked on their own.
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.context import Context
from mailbell.http_limits import HttpTimeouts
from mailbell.log_limits import ResourceExhaustionFilter
from tests.api.conftest import Tokens
from tests.api.serve_process import ROOT, ServeProcess, free_port

HEADER_S, BODY_S, KEEPALIVE_S = 2.0, 4.0, 5.0
# Scheduling noise on two shared, busy cores.
SLACK_S = 1.5


class LimitedServe(ServeProcess):
    """`mailbell serve` started with RLIMIT_NOFILE (soft, hard) and short client timeouts."""

    def __init__(self, *, log_path: Path, soft: int, hard: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {
            **os.environ,
            "MAILBELL_HTTP_HEADER_TIMEOUT_S": str(HEADER_S),
            "MAILBELL_HTTP_BODY_TIMEOUT_S": str(BODY_S),
            "MAILBELL_HTTP_KEEPALIVE_TIMEOUT_S": str(KEEPALIVE_S),
        }

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailbell", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,
        )

    def open_files_limit(self) -> tuple[int, int]:
        for line in Path(f"/proc/{self.process.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
        raise AssertionError("no open-files line in /proc/PID/limits")

    def log_lines(self) -> list[str]:
        return [line for line in self.logs.splitlines() if line.strip()]


def healthz(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


def open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` connections that never finish a request; every other one sends half a header.
    Non-blocking: connections the server cannot accept yet wait in the kernel, not here."""
    sockets = []
    for index in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        sockets.append(sock)
        if index % 2:
            _send_when_connected(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return sockets


def _send_when_connected(sock: socket.socket, data: bytes) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        if selector.select(5):
            sock.send(data)


def wait_closed(sockets: list[socket.socket], deadline: float) -> dict[socket.socket, float]:
    """When the server closed each socket (EOF or reset), until `deadline` (monotonic)."""
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(sockets) and time.monotonic() < deadline:
            for key, _ in selector.select(0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[sock] = time.monotonic()
                    selector.unregister(sock)
    return closed


@pytest.fixture
def serve_under_256(ctx: Context, tmp_path: Path) -> Iterator[LimitedServe]:
    with LimitedServe(log_path=tmp_path / "serve.log", soft=256, hard=256) as serve:
        yield serve


def test_300_idle_connections_under_256_descriptors_time_out_and_healthz_answers(
    serve_under_256: LimitedServe,
) -> None:
    serve = serve_under_256
    assert serve.open_files_limit() == (256, 256)
    lines_before = len(serve.log_lines())
    opened = time.monotonic()
    sockets = open_idle(serve.port, 300)
    try:
        # Every descriptor is taken (a little over 200 accepted, the rest in the backlog):
        # /healthz cannot get in until the first idle ones time out.
        time.sleep(HEADER_S / 2)
        # The first wave goes at HEADER_S, the backlog's at most HEADER_S (and an accept
        # retry) later; the last are closed well before aiohttp's own 75 s would.
        deadline = opened + 2 * HEADER_S + 5 * SLACK_S
        closed = wait_closed(sockets, deadline)
        assert len(closed) == 300, f"{300 - len(closed)} idle connections still open"
        first = min(closed.values()) - opened
        assert first >= HEADER_S - 0.2, f"an idle connection was closed after {first:.2f} s"
        assert healthz(serve.url, timeout=5) == 200
        answered = time.monotonic() - opened
    finally:
        for sock in sockets:
            sock.close()
    assert answered < 2 * HEADER_S + 6 * SLACK_S
    lines = serve.log_lines()[lines_before:]
    assert len(lines) < 100, "\n".join(lines[:20])
    assert any("resource exhausted (Too many open files)" in line for line in lines), lines[:20]
    assert "Traceback" not in serve.logs


@pytest.fixture
def serve_with_room(ctx: Context, tmp_path: Path) -> Iterator[LimitedServe]:
    with LimitedServe(log_path=tmp_path / "serve.log", soft=256, hard=1024) as serve:
        yield serve


def _time_until_closed(sock: socket.socket, started: float, limit: float) -> float:
    sock.setblocking(False)
    [closed_at] = wait_closed([sock], started + limit).values() or [None]
    assert closed_at is not None, f"still open after {limit} s"
    return float(closed_at - started)


def test_soft_descriptor_limit_is_raised_to_the_hard_limit(serve_with_room: LimitedServe) -> None:
    assert serve_with_room.open_files_limit() == (1024, 1024)


def test_headers_trickled_byte_by_byte_are_cut_off_at_the_header_timeout(
    serve_with_room: LimitedServe,
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with socket.create_connection(("127.0.0.1", serve_with_room.port), timeout=1) as sock:
        started = time.monotonic()
        sent = 0
        try:
            for byte in request:  # a byte every 50 ms: never idle, never done
                sock.send(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except OSError:
            pass
        took = time.monotonic() - started
        if sent == len(request):
            took = _time_until_closed(sock, started, HEADER_S + 5 * SLACK_S)
    assert sent < len(request)
    assert HEADER_S - 0.2 <= took <= HEADER_S + SLACK_S


def test_a_body_that_stops_arriving_is_cut_off_at_the_body_timeout(
    serve_with_room: LimitedServe, tokens: Tokens
) -> None:
    head = (
        "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tokens.acme}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", serve_with_room.port), timeout=1) as sock:
        started = time.monotonic()
        sock.sendall(head + b'{"event": ')
        answer = b""
        sock.settimeout(BODY_S + 5 * SLACK_S)
        while chunk := sock.recv(4096):  # until the server closes the connection
            answer += chunk
        took = time.monotonic() - started
    # Past the header deadline (the headers were complete), at the body deadline.
    assert BODY_S - 0.2 <= took <= BODY_S + SLACK_S
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert healthz(serve_with_room.url) == 200
    assert "Traceback" not in serve_with_room.logs


def test_an_idle_kept_alive_connection_closes_at_the_keepalive_timeout(
    serve_with_room: LimitedServe,
) -> None:
    with socket.create_connection(("127.0.0.1", serve_with_room.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        # A second request after HEADER_S of idling is still served: idle is not "slow".
        time.sleep(HEADER_S + 0.5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        took = _time_until_closed(sock, started, KEEPALIVE_S + 5 * SLACK_S)
    assert KEEPALIVE_S - 0.2 <= took <= KEEPALIVE_S + SLACK_S


def test_timeouts_default_to_10_30_75_and_refuse_nonsense() -> None:
    assert HttpTimeouts.from_environ({}) == HttpTimeouts(10.0, 30.0, 75.0)
    assert HttpTimeouts.from_environ({"MAILBELL_HTTP_BODY_TIMEOUT_S": "12.5"}).body_s == 12.5
    for bad in ("0", "-1", "abc", "nan", "inf"):
        with pytest.raises(ValueError, match="MAILBELL_HTTP_HEADER_TIMEOUT_S must be a positive"):
            HttpTimeouts.from_environ({"MAILBELL_HTTP_HEADER_TIMEOUT_S": bad})


def test_serve_refuses_a_bad_timeout_with_one_line(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBELL_HTTP_KEEPALIVE_TIMEOUT_S", "soon")
    serve = ServeProcess(log_path=tmp_path / "serve.log")
    try:
        code = serve.process.wait(30)
        logs = serve.logs
    finally:
        serve.close()
    assert code == 1
    assert "MAILBELL_HTTP_KEEPALIVE_TIMEOUT_S must be a positive number of seconds" in logs
    assert "Traceback" not in logs


def test_exhaustion_records_pass_once_a_second() -> None:
    now = [0.0]
    limiter = ResourceExhaustionFilter(clock=lambda: now[0])
    error = OSError(24, "Too many open files")

    def record(msg: str, exc: BaseException | None) -> logging.LogRecord:
        exc_info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("asyncio", logging.ERROR, "", 0, msg, (), exc_info)

    passed = []
    for step in range(300):  # 100 a second for 3 s, as asyncio's accept loop logs them
        now[0] = step / 100
        item = record("socket.accept() out of system resource", error)
        if limiter.filter(item):
            passed.append(item)
    assert len(passed) == 3
    assert passed[1].getMessage().endswith("99 similar line(s) dropped since the last")
    assert passed[0].exc_info is None and passed[0].levelname == "WARNING"
    assert limiter.filter(record("listening on", None))  # other records are untouched
