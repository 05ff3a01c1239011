"""A real Dovecot IMAP server for the tests: throwaway config, Maildir and certificates.

`DovecotServer(base).start()` writes a configuration under `base` (a directory the caller owns),
makes a CA and a server certificate for 127.0.0.1/localhost with `cryptography.x509`, and runs
`dovecot -F -c CONF` as a child process listening on two free ports of 127.0.0.1: one plain
(143-style, STARTTLS offered) and one implicit TLS (993-style). Users live in a passwd-file and are
added while the server runs (`add_user`). `stop()` ends the process and `start()` again reuses the
same ports, configuration and mail, so a test can take the server away mid-sync.

Dovecot runs unprivileged: started by a normal user it runs every process as that user; started by
root (CI) it uses the `dovecot`/`dovenull` system users of the Debian package for its internal
processes and the `dovecot` user for mail, so nothing runs as root but the master.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

INSTALL_HINT = (
    "the dovecot binary is missing: install Debian's dovecot-imapd "
    "(`apt-get install -y dovecot-imapd`; .ci/run does it in CI)"
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(directory: Path, *, name: str = "mailbell test CA") -> Certificates:
    """A CA and a server certificate signed by it for localhost and 127.0.0.1 (PEM files)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
    )
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


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
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
  override_fields = nodelay=yes
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
  default_fields = uid={mail_uid} gid={mail_gid} home={base}/mail/%u
}}
# Wrong-password tests must not slow each other down: no failure delay, no penalty per IP.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{anvil_extra}}}
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
{login_extra}}}
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
        self.certs = make_certificates(base / "tls")
        self.users_file = base / "users"
        self.config_file = base / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._users: dict[str, str] = {}
        self._prepare()

    def _prepare(self) -> None:
        ident = self.identity
        for sub in ("run", "state", "mail"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        if not ident.rootless:
            os.chown(self.base / "mail", ident.mail_uid, ident.mail_gid)
        self.users_file.write_text("")
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
                login_extra="  chroot =\n" if ident.rootless else "",
                anvil_extra="  chroot =\n" if ident.rootless else "",
            )
        )

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        log = self.base / "dovecot.log"
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
                output = (
                    self.process.stdout.read().decode(errors="replace")
                    if self.process.stdout
                    else ""
                )
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.process = None
                raise RuntimeError(f"dovecot exited at start: {output.strip()} {tail.strip()}")
            if self._greets(self.plain_port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{self.plain_port} in {timeout}s")

    def _greets(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def stop(self) -> None:
        """End the master (it takes its children with it) and wait until the ports are free."""
        process, self.process = self.process, None
        if process is None:
            return
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

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Add a passwd-file user (Dovecot re-reads the file when it changes)."""
        if ":" in name or ":" in password or "\n" in name + password:
            raise ValueError("user names and passwords of the test server cannot hold ':'")
        self._users[name] = password
        lines = "".join(f"{user}:{{PLAIN}}{secret}::::::\n" for user, secret in self._users.items())
        tmp = self.users_file.with_suffix(".tmp")
        tmp.write_text(lines)
        os.replace(tmp, self.users_file)
        # passwd-file notices a change by mtime; make sure two writes in one second differ.
        stamp = time.time() + len(self._users)
        os.utime(self.users_file, (stamp, stamp))


@contextlib.contextmanager
def running_dovecot(base: Path | None = None):  # type: ignore[no-untyped-def]
    """A started server for the block; its directory is removed afterwards when we made it."""
    made = base is None
    root = Path(tempfile.mkdtemp(prefix="mailbell-dovecot-")) if base is None else base
    server = DovecotServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if made:
            shutil.rmtree(root, ignore_errors=True)
