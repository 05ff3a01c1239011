"""One SSH session: the console's child (tui/ssh/child.py) in a pty, bridged to the channel.

Input and output go through the pty's master without blocking the loop (add_reader and, when
the child is slow to read, add_writer); a slow client pauses the reading, so the pty fills and
the child waits. A window change resizes the pty; the child's exit closes the channel with its
code; the client's leaving stops the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import asyncssh

from tui.ssh.child import set_window_size, start_console, stop_console

if TYPE_CHECKING:
    from tui.ssh.server import ConsoleServer

log = logging.getLogger("mailbell.ssh")

NEEDS_TERMINAL = "mailbell's console needs a terminal (ssh -t)"
NOTHING_ELSE = "mailbell's console serves only its terminal UI: no commands"
READ_CHUNK = 65536
# After the child is gone its screen may still be in the alternate buffer with mouse
# reporting on: leave both, so the client's shell is usable again after a closing message.
RESTORE_TERMINAL = b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b[?1049l"


class ConsoleSession(asyncssh.SSHServerSession[bytes]):
    """The channel's one session: a shell with a pty runs the console; a command or a shell
    without a pty gets one line and exit 1; a subsystem is refused at its request."""

    def __init__(self, server: ConsoleServer, key_name: str, peer: tuple[str, int]) -> None:
        self._server = server
        self._key_name = key_name
        self._peer = peer
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._term: str | None = None
        self._size = (80, 24)
        self._refusal: str | None = None
        self._master = -1
        self._process: asyncio.subprocess.Process | None = None
        self._pending = bytearray()  # input the child has not read yet
        self._reading = False
        self._last_input = time.monotonic()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._started = False  # the child is (being) started: `_run` releases the session
        self._closed = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # -- requests -----------------------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Any
    ) -> bool:
        self._term = term_type or "xterm"
        width, height = term_size[0], term_size[1]
        self._size = (width or 80, height or 24)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        # Accepted only to answer with a line and exit 1: a refused request leaves the client
        # with a bare "channel request failed".
        self._refusal = NOTHING_ELSE
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        # Refused at the request: a subsystem (SFTP) speaks a binary protocol, in which a line
        # of text reads as garbage ("message too long"); "subsystem request failed" is clear.
        log.info("ssh: subsystem %r refused", subsystem, extra={"key": self._key_name})
        return False

    def break_received(self, msec: int) -> bool:
        return False

    def session_started(self) -> None:
        if self._refusal is None and self._term is None:
            self._refusal = NEEDS_TERMINAL
        if self._refusal is None:
            self._refusal = self._server.admit(self)
        if self._refusal is not None:
            self._finish_with(self._refusal, 1)
            return
        self._started = True
        self._spawn(self._run())

    # -- the child ----------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            self._process, self._master = await start_console(
                self._key_name, self._term or "xterm", self._size, self._peer
            )
        except OSError as exc:
            log.error("ssh: cannot start a console for %s: %s", self._key_name, exc)
            self._finish_with("mailbell: the console could not start", 1)
            self._release()
            return
        self._set_size(*self._size)  # a window change while the child was starting
        log.info(
            "ssh: session started",
            extra={"key": self._key_name, "client": self._peer[0], "pid": self._process.pid},
        )
        self._start_reading()
        self._arm_idle_timer()
        if self._closing:  # the client left (or the server stopped) while the child started
            self._spawn(self._stop_child())
        code = await self._process.wait()
        self._drain_output()
        self._stop_reading()
        if not self._closing:
            self._closing = True
            self._exit(code if code >= 0 else 128 - code)
        self._release()
        log.info("ssh: session ended", extra={"key": self._key_name, "exit": code})

    def _set_size(self, width: int, height: int) -> None:
        if self._master >= 0:
            set_window_size(self._master, width, height)

    def _start_reading(self) -> None:
        if not self._reading and self._master >= 0:
            asyncio.get_running_loop().add_reader(self._master, self._on_output)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self._master)
            self._reading = False

    def _on_output(self) -> None:
        try:
            data = os.read(self._master, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: every slave descriptor is closed, the child is going
            self._stop_reading()
            return
        if not data:
            self._stop_reading()
            return
        if self._chan is not None and not self._closing:
            self._chan.write(data)

    def _drain_output(self) -> None:
        while self._master >= 0 and self._chan is not None and not self._closing:
            try:
                data = os.read(self._master, READ_CHUNK)
            except OSError:
                return
            if not data:
                return
            self._chan.write(data)

    # -- the client ---------------------------------------------------------------------------

    def data_received(self, data: bytes, datatype: Any) -> None:
        self._last_input = time.monotonic()
        if self._master < 0:
            return
        self._pending += data
        self._flush_input()

    def _flush_input(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and self._master >= 0:
            try:
                written = os.write(self._master, self._pending)
            except BlockingIOError:
                # The child is not reading: stop taking the client's input (SSH flow control
                # holds the rest) until it does, without blocking the loop.
                loop.add_writer(self._master, self._on_writable)
                if self._chan is not None:
                    self._chan.pause_reading()
                return
            except OSError:
                self._pending.clear()
                return
            del self._pending[:written]

    def _on_writable(self) -> None:
        asyncio.get_running_loop().remove_writer(self._master)
        self._flush_input()
        if not self._pending and self._chan is not None:
            self._chan.resume_reading()

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._size = (width or self._size[0], height or self._size[1])
        self._set_size(*self._size)

    def eof_received(self) -> bool:
        return True  # keep the channel open: a terminal UI ends by its own quit key

    def pause_writing(self) -> None:
        self._stop_reading()  # the client is slow: let the pty fill, the child then waits

    def resume_writing(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._chan = None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._process is not None and self._process.returncode is None:
            self._spawn(self.end("client disconnected"))
        elif not self._started:
            self._release()

    # -- ending -------------------------------------------------------------------------------

    def _arm_idle_timer(self) -> None:
        if self._closing:
            return
        idle_s = self._server.idle_s
        remaining = self._last_input + idle_s - time.monotonic()
        loop = asyncio.get_running_loop()
        if remaining > 0:
            self._idle_timer = loop.call_later(remaining, self._arm_idle_timer)
            return
        self._idle_timer = None
        self._spawn(self.end(f"mailbell: no input for {idle_s:g} s: session closed"))

    async def end(self, message: str | None = None, code: int = 0) -> None:
        """Stop the child (hang-up, then SIGTERM, SIGKILL after 2 s), then close the channel
        with `message` on the client's screen."""
        already = self._closing
        self._closing = True
        await self._stop_child()
        if not already and self._chan is not None:
            self._chan.write(RESTORE_TERMINAL + b"\r\n")
            self._finish_with(message, code)
        if self._started:
            await asyncio.shield(self._closed)

    async def _stop_child(self) -> None:
        if self._process is not None:
            await stop_console(self._process)

    def _finish_with(self, message: str | None, code: int) -> None:
        if self._chan is not None:
            if message:
                self._chan.write(message.encode() + b"\r\n")
            self._exit(code)
        if not self._started:
            self._release()

    def _exit(self, code: int) -> None:
        if self._chan is not None:
            with contextlib.suppress(OSError, asyncssh.Error):
                self._chan.exit(code)

    def _release(self) -> None:
        if self._master >= 0:
            loop = asyncio.get_running_loop()
            self._stop_reading()
            loop.remove_writer(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = -1
        self._server.release(self)
        if not self._closed.done():
            self._closed.set_result(None)
