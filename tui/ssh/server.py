"""The SSH server of `mailbell ssh` (and `mailbell serve --ssh`): the TUI and nothing else.

    server = ConsoleServer(settings)
    await server.start("0.0.0.0", 2222)   # host key made on first start, fingerprint logged
    ...
    await server.close()                  # stops listening, ends every session

Public-key authentication only, against mailbell's keys file (core/ssh_keys.py), read again at
each attempt so a removed key stops new logins at once; any user name is accepted, the key
decides who the session is. Each connection may run one session (tui/ssh/session.py); shells
other than the TUI, commands, subsystems (SFTP), port, agent and X11 forwarding are refused.
Limits (core/config.py): concurrent sessions, idle time, failed logins per address a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from tui.ssh.session import ConsoleSession

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger("mailbell.ssh")

FAILURE_WINDOW_S = 60.0
PURGE_ABOVE = 4096  # addresses with recent failures kept before the old ones are swept


def load_host_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    """The server's host key, made (ed25519, 0600) when the file does not exist; and whether
    it was made now. A file that cannot be read or made is a ValidationError naming it."""
    from core.errors import ValidationError
    from core.private_files import PRIVATE_FILE_MODE, make_private_dir

    try:
        if path.exists():
            return asyncssh.read_private_key(str(path)), False
        key = asyncssh.generate_private_key("ssh-ed25519", comment="mailbell console host key")
        make_private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.export_private_key())
    except (OSError, asyncssh.KeyImportError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError("MAILBELL_SSH_HOST_KEY", f"{path}: {reason}") from None
    return key, True


class FailureLimiter:
    """Failed logins per client address in the last minute; at `limit` the address's new
    connections are closed at once until the oldest failure is a minute old."""

    def __init__(self, limit: int, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        horizon = time.monotonic() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.limit

    def fail(self, address: str) -> None:
        if len(self._failures) > PURGE_ABOVE:  # a scan from many addresses: forget the old
            for known in list(self._failures):
                self._recent(known)
        self._recent(address)
        self._failures.setdefault(address, deque()).append(time.monotonic())


class ConsoleServer:
    """The listener, the sessions it runs and its limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys_file = settings.ssh_keys_file
        self.max_sessions = settings.ssh_max_sessions
        self.idle_s = settings.ssh_idle_s
        self.failures = FailureLimiter(settings.ssh_auth_failures_per_minute)
        self.sessions: set[ConsoleSession] = set()
        self.fingerprint = ""
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def port(self) -> int:
        return self._acceptor.get_port() if self._acceptor is not None else 0

    async def start(self, host: str, port: int) -> str:
        """Listen on host:port (0: any free port, see `.port`); returns the host key's
        SHA256 fingerprint."""
        # asyncssh logs every channel request at info: the console logs its own lines.
        logging.getLogger("asyncssh").setLevel(logging.WARNING)
        key, made = load_host_key(self.settings.ssh_host_key_file)
        self.fingerprint = key.get_fingerprint("sha256")
        self._acceptor = await asyncssh.create_server(
            lambda: _Connection(self),
            host,
            port,
            server_host_keys=[key],
            encoding=None,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_pty=True,
            keepalive_interval=60,
            keepalive_count_max=3,
            login_timeout=60,
        )
        log.info(
            "ssh: listening on %s:%s, host key %s%s",
            host,
            self.port,
            self.fingerprint,
            " (made now)" if made else "",
            extra={"host": host, "port": self.port, "fingerprint": self.fingerprint},
        )
        self._report_keys()
        return self.fingerprint

    def _report_keys(self) -> None:
        """One line on the keys file at start, so an empty or broken one is noticed then."""
        from core.errors import ValidationError
        from core.ssh_keys import read_keys

        try:
            count = len(read_keys(self.keys_file))
        except ValidationError as exc:
            log.error("ssh: the keys file cannot be read, every login is refused: %s", exc)
            return
        if count:
            log.info("ssh: %s key(s) in %s", count, self.keys_file)
        else:
            log.warning(
                "ssh: no key in %s yet, every login is refused: add one with "
                "`mailbell ssh key add`",
                self.keys_file,
            )

    def admit(self, session: ConsoleSession) -> str | None:
        """None when `session` may start; else the line that refuses it."""
        if len(self.sessions) >= self.max_sessions:
            log.warning("ssh: session refused: %s running", len(self.sessions))
            return f"too many sessions ({self.max_sessions}): try again later"
        self.sessions.add(session)
        return None

    def release(self, session: ConsoleSession) -> None:
        self.sessions.discard(session)

    async def close(self) -> None:
        """Stop listening and end every session (each child within 2 s, then killed)."""
        if self._acceptor is not None:
            self._acceptor.close()
            with contextlib.suppress(Exception):
                await self._acceptor.wait_closed()
            self._acceptor = None
        await asyncio.gather(
            *(session.end("mailbell: the server is stopping") for session in list(self.sessions)),
            return_exceptions=True,
        )


class _Connection(asyncssh.SSHServer):
    """One client connection: its address, its key once authenticated, its one session."""

    def __init__(self, server: ConsoleServer) -> None:
        self._server = server
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer: tuple[str, int] = ("", 0)
        self._key_name: str | None = None
        self._candidate: str | None = None
        self._failed = False
        self._blocked = False
        self._sessions = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername") or ("", 0)
        self._peer = (str(peer[0]), int(peer[1]))
        if self._server.failures.blocked(self._peer[0]):
            self._blocked = True
            log.warning("ssh: %s refused: too many failed logins", self._peer[0])
            asyncio.get_running_loop().call_soon(conn.abort)

    def connection_lost(self, exc: Exception | None) -> None:
        # Ending before authenticating is a failed login: otherwise a client could guess
        # by opening a new connection for each try.
        if self._key_name is None and not self._failed and not self._blocked:
            self._server.failures.fail(self._peer[0])

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        from core.errors import ValidationError
        from core.ssh_keys import read_keys

        try:
            keys = read_keys(self._server.keys_file)
        except ValidationError as exc:
            log.error("ssh: the keys file cannot be read, refusing every login: %s", exc)
            keys = []
        blob = key.public_data
        for known in keys:
            if known.blob == blob:
                self._candidate = known.name  # the signature is checked after this
                return True
        self._failed = True
        self._server.failures.fail(self._peer[0])
        log.info(
            "ssh: unknown key refused",
            extra={"client": self._peer[0], "fingerprint": key.get_fingerprint("sha256")},
        )
        return False

    def auth_completed(self) -> None:
        self._key_name = self._candidate
        log.info("ssh: %s logged in from %s", self._key_name, self._peer[0])

    def session_requested(self) -> ConsoleSession | bool:
        if self._key_name is None:
            return False
        self._sessions += 1
        if self._sessions > 1:  # one console per connection
            return False
        return ConsoleSession(self._server, self._key_name, self._peer)

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return False

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        return False
