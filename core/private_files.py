"""The data directory and the files mailbell creates in it are readable by their owner only:
they hold the database (secrets encrypted, but addresses and messages in it) and the key file.

Modes are set at creation (the umask would otherwise widen them). A directory or file that
already exists is left as it is: the operator chose it (a shared group directory, say).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` 0700 if it is missing (its missing parents get the usual mode)."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:  # another process made it first: theirs, with their mode
        return
    os.chmod(path, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask


def create_private_file(path: Path) -> None:
    """Create an empty `path` 0600 if it is missing (SQLite then opens it as a new database,
    and makes its -wal and -shm files with the database file's mode). Any other failure
    (read-only or full disk) is left for the opener to report in its own words."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except OSError:
        return
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)


def write_private_file(path: Path, content: str, *, replace: bool = True) -> None:
    """Write `content` to `path` atomically with mode 0600 from the first byte (a reader sees
    the old file or the new one, never half of it).

    `replace=False` creates the file only if it does not exist: two processes creating the first
    key at once must not each encrypt under a key the other then overwrites. The temporary
    name is the writer's own for the same reason.
    """
    make_private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, PRIVATE_FILE_MODE)
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):  # another writer was first: keep theirs
                os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
