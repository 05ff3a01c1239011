"""Secrets at rest: a MultiFernet key ring from MAILBELL_SECRET_KEYS or a 0600 key file.

The first key encrypts; every key decrypts. Errors name the fix and never show a key or a secret.
Short secrets (passwords, tokens) are Fernet tokens; bulk data (rendered messages, event
payloads) is sealed with keys derived from the same ring (`core.sealed`), and Fernet tokens
written by earlier versions still open.

A long-running process (`mailbell serve`, `mailbell worker`) follows a key file that another
process rewrote (`mailbell keys rotate`): a secret that does not open, when the file's identity
(inode, mtime, size) changed since it was read, reloads the ring and tries once more; encrypting
reloads it first too, so new secrets go under the new first key; `reload()` (on SIGHUP) reads it
again unconditionally. MAILBELL_SECRET_KEYS is read once, when the process starts: a process's
environment cannot change from outside, so a new value needs a restart.
"""

from __future__ import annotations

import base64
import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import SecretKeyError, StorageFullError, StorageReadOnlyError
from core.private_files import write_private_file
from core.sealed import BlobKey, UnopenableBlob, is_sealed, open_sealed, seal

ENV_VAR = "MAILBELL_SECRET_KEYS"

log = logging.getLogger("mailbell.keys")
T = TypeVar("T")
FileIdentity = tuple[int, int, int]  # st_ino, st_mtime_ns, st_size
ENCRYPT_LOOK_S = 1.0


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


def _create_key_file(path: Path) -> None:
    """The first key; a full or read-only disk is a storage error naming the file, not a 500."""
    try:
        write_private_file(path, Fernet.generate_key().decode() + "\n", replace=False)
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


def _identity(stat: os.stat_result) -> FileIdentity:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _file_identity(path: Path) -> FileIdentity | None:
    try:
        return _identity(os.stat(path))
    except OSError:  # gone or unreadable: nothing newer to load
        return None


def _read_key_file_with_identity(path: Path) -> tuple[str, FileIdentity]:
    """The file's text and the identity of exactly that text (fstat of the descriptor read:
    a file replaced in between is seen as changed next time, never the other way round)."""
    try:
        with path.open() as handle:
            return handle.read(), _identity(os.fstat(handle.fileno()))
    except FileNotFoundError:
        raise SecretKeyError(
            f"the key file {path} is missing: restore it from a backup "
            "(the keys already loaded stay in use)"
        ) from None
    except PermissionError:
        raise SecretKeyError(f"cannot read the key file {path}: check its owner and mode") from None


@dataclass(frozen=True)
class _Ring:
    """One loaded ring, swapped whole on a reload: a thread holding it never sees half of two."""

    fernet: MultiFernet
    blob_keys: tuple[BlobKey, ...]
    identity: FileIdentity | None  # of the key file it came from; None for MAILBELL_SECRET_KEYS

    @classmethod
    def parse(cls, raw: str, origin: str, identity: FileIdentity | None) -> _Ring:
        keys = _parse_keys(raw, origin)
        return cls(
            MultiFernet([fernet for fernet, _ in keys]),
            tuple(blob_key for _, blob_key in keys),
            identity,
        )


class SecretBox:
    """Encrypts and decrypts secrets with the key ring. Build one per process from the settings;
    threads share it (the worker, the API and the health watch run in one process)."""

    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._ring: _Ring | None = None
        self._load_lock = threading.Lock()
        self._refused: FileIdentity | None = None  # a changed key file that did not load
        self._looked_at = -ENCRYPT_LOOK_S  # when encrypting last looked at the key file

    def _load(self) -> _Ring:
        ring = self._ring
        if ring is not None:
            return ring
        with self._load_lock:  # threads encrypting for the first time create one key file
            if self._ring is None:
                self._ring = self._read(create=True)
            return self._ring

    def _read(self, *, create: bool) -> _Ring:
        if self.source.env_keys:
            return _Ring.parse(self.source.env_keys, ENV_VAR, None)
        path = self.source.key_file
        if create and not path.exists():
            _create_key_file(path)
        raw, identity = _read_key_file_with_identity(path)
        return _Ring.parse(raw, f"the key file {path}", identity)

    def _newer(self, used: _Ring) -> _Ring | None:
        """The ring to try again with after `used` failed to open something, or None when
        nothing newer can be had (same key file, keys from the environment, a broken file)."""
        if used.identity is None:
            return None
        with self._load_lock:
            current = self._ring
            if current is not None and current is not used:
                return current  # another thread reloaded meanwhile
            path = self.source.key_file
            identity = _file_identity(path)
            if identity is None or identity in (used.identity, self._refused):
                return None
            try:
                ring = self._read(create=False)
            except SecretKeyError as exc:
                self._refused = identity
                log.warning("the key file changed but does not load, keeping the old keys: %s", exc)
                return None
            self._ring = ring
            log.info(
                "key ring reloaded: the key file changed",
                extra={"keys": len(ring.blob_keys), "key_file": str(path)},
            )
            return ring

    def _current(self) -> _Ring:
        """The ring to encrypt with: reloaded first when the key file has changed. The file is
        looked at once a second at most (a stat costs a third of a sealing); meanwhile the old
        first key, still in the new file, is as good."""
        ring = self._load()
        if ring.identity is None:
            return ring
        now = time.monotonic()
        if now - self._looked_at < ENCRYPT_LOOK_S:
            return ring
        self._looked_at = now
        if _file_identity(self.source.key_file) not in (ring.identity, None):
            return self._newer(ring) or ring
        return ring

    def _opening(self, attempt: Callable[[_Ring], T]) -> T:
        """`attempt(ring)`; when nothing in the ring opens the data, once more with the key
        file's newer ring, if it changed."""
        ring = self._load()
        try:
            return attempt(ring)
        except (InvalidToken, UnopenableBlob):
            newer = self._newer(ring)
            if newer is None:
                raise
            return attempt(newer)

    def reload(self) -> int:
        """Read the keys again (SIGHUP); returns how many are loaded. A key file that is
        missing or malformed raises SecretKeyError and the keys loaded stay in use."""
        with self._load_lock:
            self._ring = self._read(create=self._ring is None)
            self._refused = None
            return len(self._ring.blob_keys)

    def refresh(self) -> int:
        """Reload the ring if the key file changed since it was read (the health check does,
        so that a broken file is reported before a restart trips on it); returns how many keys
        are loaded. A key file that is gone, unreadable or malformed raises SecretKeyError, and
        the keys loaded stay in use."""
        ring = self._load()
        if ring.identity is None:
            return len(ring.blob_keys)
        with self._load_lock:
            current = self._ring or ring
            if _file_identity(self.source.key_file) != current.identity:
                current = self._ring = self._read(create=False)
                self._refused = None
                log.info(
                    "key ring reloaded: the key file changed",
                    extra={"keys": len(current.blob_keys), "key_file": str(self.source.key_file)},
                )
            return len(current.blob_keys)

    def _unopenable(self, what: str) -> SecretKeyError:
        where = self.source.description
        restart = (
            f"; a running process reads {ENV_VAR} only when it starts"
            if self.source.env_keys
            else ""
        )
        return SecretKeyError(
            f"{what} cannot be decrypted with the keys in {where}: "
            f"restore the key that encrypted it (add it to {where}){restart}"
        )

    def encrypt(self, plaintext: str) -> str:
        return self._current().fernet.encrypt(plaintext.encode()).decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Seal bulk data under the first key (`core.sealed`)."""
        return seal(self._current().blob_keys[0], data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Open sealed data, or a Fernet token of an earlier version."""

        def attempt(ring: _Ring) -> bytes:
            if is_sealed(token):
                return open_sealed(ring.blob_keys, token)
            return ring.fernet.decrypt(token)

        try:
            return self._opening(attempt)
        except (InvalidToken, UnopenableBlob):
            raise self._unopenable("stored data") from None

    def decrypt(self, token: str) -> str:
        try:
            return self._opening(lambda ring: ring.fernet.decrypt(token.encode())).decode()
        except InvalidToken:
            raise self._unopenable("a stored secret") from None

    def rotate_token(self, token: str) -> str:
        """Re-encrypt under the first key of the ring."""
        try:
            return self._load().fernet.rotate(token.encode()).decode()
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
        write_private_file(path, Fernet.generate_key().decode() + "\n" + old + "\n")
        self.reload()

    @property
    def key_count(self) -> int:
        return len(self._load().blob_keys)
