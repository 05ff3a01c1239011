"""mailbell's SSH authorized-keys file: which public keys may open the console, as whom.

One key per line, fields separated by spaces; `#` starts a comment line:

    NAME ROLE TENANTS KEY-TYPE BASE64-KEY [COMMENT]

TENANTS is `*` (every tenant) or slugs joined by commas; a system admin's is `*`. The file is
written 0600 by `mailbell ssh key add|remove` (replaced atomically, so a running server never
reads half a file); an operator may edit it by hand, and a line that breaks a rule is reported
with its number.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.access import Grant
from core.errors import Conflict, NotFound, ValidationError
from core.private_files import write_private_file
from core.vocabulary import SSH_KEY_NAME_PATTERN, TENANT_SLUG_PATTERN, Role

HEADER = (
    "# mailbell SSH console keys (`mailbell ssh key add|list|remove`).\n"
    "# NAME ROLE TENANTS KEY-TYPE BASE64-KEY [COMMENT]; TENANTS is * or slugs joined by commas.\n"
)
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_NAME = re.compile(SSH_KEY_NAME_PATTERN)
_SLUG = re.compile(TENANT_SLUG_PATTERN)


@dataclass(frozen=True)
class SshKey:
    name: str
    role: Role
    tenants: frozenset[str] | None  # None: every tenant
    key_type: str
    key_data: str  # base64, as in an OpenSSH public key line
    comment: str = ""

    @property
    def grant(self) -> Grant:
        return Grant(role=self.role, tenants=None if self.is_system_admin else self.tenants)

    @property
    def is_system_admin(self) -> bool:
        return self.role is Role.SYSTEM_ADMIN

    @property
    def blob(self) -> bytes:
        return base64.b64decode(self.key_data)

    @property
    def fingerprint(self) -> str:
        """`SHA256:…`, as `ssh-keygen -l` prints it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def line(self) -> str:
        tenants = "*" if self.tenants is None else ",".join(sorted(self.tenants))
        fields = [self.name, self.role.value, tenants, self.key_type, self.key_data]
        return " ".join([*fields, self.comment] if self.comment else fields)

    def as_json(self) -> dict[str, object]:
        """What `ssh key list --json` prints: never the key itself, its fingerprint."""
        return {
            "name": self.name,
            "role": self.role.value,
            "tenants": None if self.tenants is None else sorted(self.tenants),
            "key_type": self.key_type,
            "fingerprint": self.fingerprint,
            "comment": self.comment,
        }


def parse_public_key(text: str) -> tuple[str, str, str]:
    """KEY-TYPE, BASE64-KEY and comment of an OpenSSH public key line (`ssh-ed25519 AAAA… me`)."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2:
        raise ValidationError("key", "expected a public key line: KEY-TYPE BASE64-KEY [COMMENT]")
    key_type, data = parts[0], parts[1]
    if key_type not in KEY_TYPES:
        raise ValidationError("key", f"{key_type!r} is not one of {', '.join(KEY_TYPES)}")
    try:
        blob = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("key", "the key is not valid base64") from None
    # The blob starts with its own type name (RFC 4253, 6.6): a pasted key of another type or a
    # truncated paste is caught here rather than at the first login.
    name_length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if name_length <= 0 or blob[4 : 4 + name_length] != key_type.encode():
        raise ValidationError("key", f"the key's data is not an {key_type} key (truncated?)")
    return key_type, data, parts[2].strip() if len(parts) > 2 else ""


def make_key(*, name: str, role: str, tenants: Iterable[str] | None, key_line: str) -> SshKey:
    """A key from its parts, each checked; `tenants` None or empty: every tenant."""
    if not _NAME.match(name):
        raise ValidationError(
            "name", "use 1-63 letters, digits, dots, hyphens and underscores, starting alphanumeric"
        )
    try:
        checked_role = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ValidationError("role", f"{role!r} is not one of {roles}") from None
    slugs = frozenset(t.strip() for t in tenants or () if t.strip())
    for slug in slugs:
        if not _SLUG.match(slug):
            raise ValidationError("tenants", f"{slug!r} is not a tenant slug")
    if checked_role is Role.TENANT_ADMIN and not slugs:
        raise ValidationError("tenants", "a tenant-admin key names at least one tenant")
    if checked_role is Role.SYSTEM_ADMIN and slugs:
        raise ValidationError("tenants", "a system-admin key covers every tenant: drop --tenants")
    key_type, data, comment = parse_public_key(key_line)
    return SshKey(
        name=name,
        role=checked_role,
        tenants=slugs or None,
        key_type=key_type,
        key_data=data,
        comment=comment,
    )


def read_keys(path: Path) -> list[SshKey]:
    """Every key of the file (none when it does not exist); a bad line is a ValidationError
    naming the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    keys: list[SshKey] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) < 4:
            raise ValidationError(
                "authorized_keys",
                f"{path}:{number}: expected NAME ROLE TENANTS KEY-TYPE BASE64-KEY",
            )
        name, role, tenants, key_line = parts
        try:
            key = make_key(
                name=name,
                role=role,
                tenants=None if tenants == "*" else tenants.split(","),
                key_line=key_line,
            )
        except ValidationError as exc:
            raise ValidationError("authorized_keys", f"{path}:{number}: {exc}") from None
        keys.append(key)
    return keys


def find_key(path: Path, name: str) -> SshKey:
    for key in read_keys(path):
        if key.name == name:
            return key
    raise NotFound(f"no SSH key is named {name!r} in {path}")


def add_key(path: Path, key: SshKey) -> None:
    """Append `key`; a name or a key already in the file is a Conflict."""
    keys = read_keys(path)
    for other in keys:
        if other.name == key.name:
            raise Conflict(f"an SSH key named {key.name!r} exists; remove it first")
        if other.blob == key.blob:
            raise Conflict(f"this key is already in the file, as {other.name!r}")
    _write(path, [*keys, key])


def remove_key(path: Path, name: str) -> SshKey:
    keys = read_keys(path)
    kept = [key for key in keys if key.name != name]
    if len(kept) == len(keys):
        raise NotFound(f"no SSH key is named {name!r} in {path}")
    _write(path, kept)
    return next(key for key in keys if key.name == name)


def _write(path: Path, keys: list[SshKey]) -> None:
    write_private_file(path, HEADER + "".join(key.line() + "\n" for key in keys))
