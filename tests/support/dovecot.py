"""A real Dovecot IMAP server for the tests: throwaway config, Maildir and certificates.

`DovecotServer(base).start()` writes a configuration under `base`, makes a CA and a server
certificate for 127.0.0.1/localhost (tests/support/certs.py), and runs `dovecot -F -c CONF` as a
child process listening on two free ports of 127.0.0.1: one plain (143-style, STARTTLS offered)
and one implicit TLS (993-style). Users (passwd-file, one file each) are added while it runs;
`stop()` ends it and `start()` brings it back on the same ports with the same mail, so a test can
take the server away mid-sync.

Dovecot runs unprivileged: started by a normal user every process runs as that user; started by
root (CI) its internal processes use the `dovecot`/`dovenull` users of Debian's package and mail
is owned by `dovecot`, so only the master runs as root. A missing binary is an error naming the
package (`dovecot-imapd`), never a silent skip.

Fixtures (load them in a test module with
`from tests.support.dovecot import dovecot, dovecot_server, imap_mailbox  # noqa: F401`):
- `dovecot_server` (session): the running server;
- `dovecot`: the same server, started again if a test stopped it;
- `imap_mailbox`: a fresh user with its own (empty) Maildir, as a `Mailbox` helper that appends
  messages with IMAP APPEND (imaplib) and reads flags and UIDVALIDITY through EXAMINE.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.certs import make_test_certs

INSTALL_HINT = (
    "the dovecot binary is missing: install Debian's dovecot-imapd "
    "(`apt-get install -y dovecot-imapd`, or `make system-deps`)"
)


def find_dovecot() -> str:
    """The dovecot binary, or an error naming the package (the tests never skip silently)."""
    path = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
    )
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    return path


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class _Identity:
    internal_user: str
    login_user: str
    group: str
    mail_uid: int
    mail_gid: int
    rootless: bool


def _identity() -> _Identity:
    if os.geteuid() != 0:
        user = pwd.getpwuid(os.geteuid())
        return _Identity(
            internal_user=user.pw_name,
            login_user=user.pw_name,
            group=grp.getgrgid(os.getegid()).gr_name,
            mail_uid=os.geteuid(),
            mail_gid=os.getegid(),
            rootless=True,
        )
    try:
        mail = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        raise RuntimeError(
            "running as root needs the dovecot and dovenull users of Debian's dovecot-core "
            "package: install dovecot-imapd"
        ) from None
    return _Identity(
        internal_user="dovecot",
        login_user="dovenull",
        group=grp.getgrgid(mail.pw_gid).gr_name,
        mail_uid=mail.pw_uid,
        mail_gid=mail.pw_gid,
        rootless=False,
    )


CONFIG = """\
# mailbell test server: generated, thrown away after the run
base_dir = {base}/run
state_dir = {base}/state
instance_name = mailbell-test-{plain_port}
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal_user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_privileged_group =
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
auth_cache_size = 0
mail_max_userip_connections = 100
# XOAUTH2 hands the bearer token to the passdb like a password: a user whose password is the
# token logs in with it, which is all the tests need of an OAuth server.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users/%u
  override_fields = nodelay=yes
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users/%u
  default_fields = uid={mail_uid} gid={mail_gid} home={base}/mail/%u
}}
# Wrong-password tests must not slow each other down: no penalty per client IP.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{chroot}}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
{chroot}}}
"""


class DovecotServer:
    """One Dovecot process with its own ports, configuration and mail under `base`."""

    def __init__(self, base: Path) -> None:
        self.binary = find_dovecot()
        self.base = base
        self.host = "127.0.0.1"
        self.plain_port = free_port()
        self.tls_port = free_port()
        self.identity = _identity()
        self.certs = make_test_certs(base / "tls")
        self.users_dir = base / "users"
        self.config_file = base / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, str] = {}
        self._prepare()

    def _prepare(self) -> None:
        ident = self.identity
        for sub in ("run", "state", "mail", "users"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)  # mail processes (user dovecot under root) reach their Maildir
        if not ident.rootless:
            os.chown(self.base / "mail", ident.mail_uid, ident.mail_gid)
        self.config_file.write_text(
            CONFIG.format(
                base=self.base,
                plain_port=self.plain_port,
                tls_port=self.tls_port,
                internal_user=ident.internal_user,
                login_user=ident.login_user,
                group=ident.group,
                mail_uid=ident.mail_uid,
                mail_gid=ident.mail_gid,
                cert=self.certs.cert_file,
                key=self.certs.key_file,
                chroot="  chroot =\n" if ident.rootless else "",
            )
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> DovecotServer:
        if self.running:
            return self
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read() if self.process.stdout else b""
                self.process = None
                raise RuntimeError(
                    f"dovecot exited at start: {out.decode(errors='replace').strip()} "
                    f"{self.log_tail(2000)}"
                )
            if self._greets(self.plain_port):
                return self
            time.sleep(0.02)
        self.stop(hard=True)
        raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{self.plain_port} in {timeout} s")

    def _greets(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self, *, hard: bool = False) -> None:
        """End the server and its children, and wait until the ports are closed.

        `hard`: SIGKILL to every process of the server at once, like a crash (and much faster
        than Dovecot's orderly shutdown, which takes about a second).
        """
        process, self.process = self.process, None
        if process is None:
            return
        if hard and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self._listening(self.plain_port):
            time.sleep(0.02)

    def _listening(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=0.2):
                return True
        except OSError:
            return False

    def log_tail(self, size: int = 4000) -> str:
        log = self.base / "dovecot.log"
        return log.read_text(errors="replace")[-size:] if log.exists() else ""

    def add_user(self, name: str, password: str) -> None:
        """A new user. One passwd-file per user: Dovecot re-reads a changed file at most once a
        second, but reads a new user's file on first use."""
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or ":" in password or "\n" in password:
            raise ValueError("test user names are [A-Za-z0-9._-]; passwords cannot hold ':'")
        if name in self._users:
            raise ValueError(f"user {name} exists already")
        self._users[name] = password
        path = self.users_dir / name
        path.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        path.chmod(0o644)


@contextlib.contextmanager
def running_dovecot(base: Path | None = None) -> Iterator[DovecotServer]:
    """A started server for the block. Without `base`, a directory under the system temp dir
    (pytest's own tmp dirs are 0700, closed to Dovecot's unprivileged mail processes)."""
    root = Path(tempfile.mkdtemp(prefix="mailbell-dovecot-")) if base is None else base
    server = DovecotServer(root)
    try:
        yield server.start()
    finally:
        server.stop()
        if base is None:
            shutil.rmtree(root, ignore_errors=True)


_user_numbers = itertools.count(1)


@dataclass
class Mailbox:
    """One Dovecot user, reached with imaplib on the plain port."""

    server: DovecotServer
    user: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.user}@example.org"

    @contextlib.contextmanager
    def connect(self) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.server.host, self.server.plain_port, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def append(
        self,
        *messages: bytes,
        folder: str = "INBOX",
        flags: str | None = None,
        date: datetime | None = None,
    ) -> None:
        """IMAP APPEND each message (one connection for all of them)."""
        when = imaplib.Time2Internaldate(date) if date else None
        with self.connect() as client:
            for raw in messages:
                status, reply = client.append(folder, flags, when, raw)
                assert status == "OK", reply

    def command(self, name: str, *args: str) -> None:
        """An imaplib command that must answer OK, e.g. `command("create", "Feed")`."""
        with self.connect() as client:
            status, reply = getattr(client, name)(*args)
            assert status == "OK", reply

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags, read through EXAMINE (which changes nothing, not even \\Recent)."""
        with self.connect() as client:
            client.select(folder, readonly=True)
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK", data
            found = {}
            for line in data:
                if not isinstance(line, bytes):
                    continue
                uid = re.search(rb"UID (\d+)", line)
                flags = re.search(rb"FLAGS \(([^)]*)\)", line)
                if uid and flags:
                    found[int(uid.group(1))] = set(flags.group(1).decode().split())
            return found

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.connect() as client:
            status, data = client.status(folder, "(UIDVALIDITY)")
            assert status == "OK", data
            found = re.search(rb"UIDVALIDITY (\d+)", data[0])
            assert found, data
            return int(found.group(1))

    def logins(self) -> int:
        """How many times this user has logged in (from the server's log)."""
        pattern = rf"Login: user=<{re.escape(self.user)}>"
        return len(re.findall(pattern, self.server.log_tail(10**8)))


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def dovecot(dovecot_server: DovecotServer) -> Iterator[DovecotServer]:
    """The session's server, running; started again after a test that stopped it."""
    dovecot_server.start()
    yield dovecot_server
    dovecot_server.start()


@pytest.fixture
def imap_mailbox(dovecot: DovecotServer) -> Mailbox:
    """A fresh user with an empty INBOX."""
    user = f"user{next(_user_numbers)}p{os.getpid()}"
    password = "pw-" + secrets.token_hex(8)
    dovecot.add_user(user, password)
    return Mailbox(dovecot, user, password)
