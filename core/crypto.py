"""Secrets at rest: a MultiFernet key ring from MAILBELL_SECRET_KEYS or a 0600 key file.

The first key encrypts; every key decrypts. Errors name the fix and never show a key or a secret.
Short secrets (passwords, tokens) are Fernet tokens; bulk data (rendered messages, event
payloads) is sealed with keys derived from the same ring (`core.sealed`), and Fernet tokens
written by earlier versions still open.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import SecretKeyError, StorageFullError, StorageReadOnlyError
from core.private_files import make_private_dir
from core.sealed import BlobKey, UnopenableBlob, is_sealed, open_sealed, seal

ENV_VAR = "MAILBELL_SECRET_KEYS"


@dataclass(frozen=True)
class KeySource:
    """Where the ring came from, so errors and `keys rotate` can name it."""

    env_keys: str | None
    key_file: Path

    @property
    def description(self) -> str:
        return ENV_VAR if self.env_keys else f"the key file {self.key_file}"


def _parse_keys(raw: str, origin: str) -> list[tuple[Fernet, BlobKey]]:
    keys = [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if not keys:
        raise SecretKeyError(f"{origin} holds no key: put at least one Fernet key in it")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append((Fernet(key), BlobKey.derive(base64.urlsafe_b64decode(key))))
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"key {position} in {origin} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as `mailbell keys rotate` writes)"
            ) from None
    return fernets


def _write_private(path: Path, content: str, *, replace: bool = True) -> None:
    """Write `content` to `path` atomically with mode 0600 from the first byte.

    `replace=False` creates the file only if it does not exist: two processes creating the first
    key at once must not each encrypt under a key the other then overwrites. The temporary
    name is the writer's own for the same reason.
    """
    make_private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):  # another writer was first: keep theirs
                os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _create_key_file(path: Path) -> None:
    """The first key; a full or read-only disk is a storage error naming the file, not a 500."""
    try:
        _write_private(path, Fernet.generate_key().decode() + "\n", replace=False)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFullError(
                f"cannot create the key file {path}: {reason}; nothing was recorded"
            ) from None
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StorageReadOnlyError(
                f"cannot create the key file {path}: {reason}; nothing was recorded"
            ) from None
        raise SecretKeyError(f"cannot create the key file {path}: {reason}") from None


def read_key_file(path: Path) -> str:
    try:
        return path.read_text()
    except PermissionError:
        raise SecretKeyError(f"cannot read the key file {path}: check its owner and mode") from None


class SecretBox:
    """Encrypts and decrypts secrets with the key ring. Build one per process from the settings."""

    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._ring: MultiFernet | None = None
        self._keys: list[Fernet] = []
        self._blob_keys: list[BlobKey] = []
        self._load_lock = threading.Lock()

    def _load(self) -> MultiFernet:
        if self._ring is not None:
            return self._ring
        with self._load_lock:  # threads encrypting for the first time create one key file
            return self._load_once()

    def _load_once(self) -> MultiFernet:
        if self._ring is None:
            if self.source.env_keys:
                keys = _parse_keys(self.source.env_keys, ENV_VAR)
            else:
                path = self.source.key_file
                if not path.exists():
                    _create_key_file(path)
                keys = _parse_keys(read_key_file(path), f"the key file {path}")
            self._keys = [fernet for fernet, _ in keys]
            self._blob_keys = [blob_key for _, blob_key in keys]
            self._ring = MultiFernet(self._keys)
        return self._ring

    def encrypt(self, plaintext: str) -> str:
        return self._load().encrypt(plaintext.encode()).decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Seal bulk data under the first key (`core.sealed`)."""
        self._load()
        return seal(self._blob_keys[0], data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Open sealed data, or a Fernet token of an earlier version."""
        ring = self._load()
        try:
            if is_sealed(token):
                return open_sealed(self._blob_keys, token)
            return ring.decrypt(token)
        except (InvalidToken, UnopenableBlob):
            raise SecretKeyError(
                f"stored data cannot be decrypted with the keys in {self.source.description}: "
                f"restore the key that encrypted it (add it to {self.source.description})"
            ) from None

    def decrypt(self, token: str) -> str:
        try:
            return self._load().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"a stored secret cannot be decrypted with the keys in {self.source.description}: "
                f"restore the key that encrypted it (add it to {self.source.description})"
            ) from None

    def rotate_token(self, token: str) -> str:
        """Re-encrypt under the first key of the ring."""
        try:
            return self._load().rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"a stored secret cannot be decrypted with the keys in {self.source.description}: "
                f"restore the key that encrypted it before rotating"
            ) from None

    def rotate_bytes(self, token: bytes) -> bytes:
        """Seal again under the first key of the ring (a Fernet token becomes a sealed blob)."""
        try:
            return self.encrypt_bytes(self.decrypt_bytes(token))
        except SecretKeyError:
            raise SecretKeyError(
                f"stored data cannot be decrypted with the keys in {self.source.description}: "
                f"restore the key that encrypted it before rotating"
            ) from None

    def add_primary_key(self) -> None:
        """Key file only: put a new key first (older keys stay for decryption)."""
        if self.source.env_keys:
            raise SecretKeyError(
                f"keys come from {ENV_VAR}: put the new key first there and run `keys rotate` again"
            )
        self._load()
        path = self.source.key_file
        old = read_key_file(path).strip()
        _write_private(path, Fernet.generate_key().decode() + "\n" + old + "\n")
        self._ring = None
        self._load()

    @property
    def key_count(self) -> int:
        self._load()
        return len(self._keys)
