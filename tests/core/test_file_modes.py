"""What mailbell creates in its data directory is its owner's only, whatever the umask: the
directory 0700, the SQLite database and its -wal/-shm files 0600, the key file 0600. A
directory the operator made is left with the mode they gave it.

These are about the SQLite files, so they run on SQLite whatever `--db` says.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.serve_process import ROOT, ServeProcess

WIDE_UMASK = 0o022  # the usual default: without care, 0755 directories and 0644 files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A MAILBELL_HOME that does not exist yet (nested, so its parent is missing too), on
    SQLite, with the usual umask for the processes started from here."""
    home = tmp_path / "data" / "mailbell"
    for name in ("MAILBELL_DATABASE_URL", "MAILBELL_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAILBELL_HOME", str(home))
    previous = os.umask(WIDE_UMASK)
    try:
        yield home
    finally:
        os.umask(previous)


def _mailbell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbell", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_fresh_data_directory_and_its_files_are_private(fresh_home: Path, tmp_path) -> None:
    for command in (("tenant", "add", "x"), ("keys", "rotate")):  # the key file is made on use
        result = _mailbell(*command)
        assert result.returncode == 0, result.stderr
    assert _mode(fresh_home) == 0o700
    assert _mode(fresh_home / "mailbell.db") == 0o600
    assert _mode(fresh_home / "secret.key") == 0o600
    assert _mode(fresh_home / "mailbell.db.migrate-lock") == 0o600
    # the missing parent is an ordinary directory, not mailbell's to lock down
    assert _mode(fresh_home.parent) == 0o755

    # -wal and -shm exist while a process has the database open
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        with urllib.request.urlopen(f"{serve.url}/healthz", timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 10
        wal, shm = fresh_home / "mailbell.db-wal", fresh_home / "mailbell.db-shm"
        while not (wal.exists() and shm.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _mode(wal) == 0o600
        assert _mode(shm) == 0o600
    modes = {path.name: oct(_mode(path)) for path in fresh_home.iterdir()}
    assert modes and set(modes.values()) == {oct(0o600)}, modes


def test_a_directory_the_operator_made_keeps_its_mode(fresh_home: Path) -> None:
    fresh_home.mkdir(parents=True)
    os.chmod(fresh_home, 0o750)
    for command in (("tenant", "add", "x"), ("keys", "rotate")):
        result = _mailbell(*command)
        assert result.returncode == 0, result.stderr
    assert _mode(fresh_home) == 0o750
    assert _mode(fresh_home / "mailbell.db") == 0o600
    assert _mode(fresh_home / "secret.key") == 0o600
