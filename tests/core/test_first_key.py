"""The first key of a new data directory is made once, however many threads or processes
encrypt for the first time together: every secret they wrote opens with the one key file."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from core.crypto import KeySource, SecretBox

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 8
ENCRYPT_ONCE = """
import sys
from pathlib import Path
from core.crypto import KeySource, SecretBox
box = SecretBox(KeySource(env_keys=None, key_file=Path(sys.argv[1])))
sys.stdin.readline()  # start together
print(box.encrypt(sys.argv[2]))
"""


def _fresh_box(key_file: Path) -> SecretBox:
    return SecretBox(KeySource(env_keys=None, key_file=key_file))


def test_threads_creating_the_first_key_share_one(tmp_path: Path) -> None:
    key_file = tmp_path / "home" / "secret.key"
    box = _fresh_box(key_file)
    start = threading.Barrier(WRITERS)
    tokens: dict[int, str] = {}
    errors: list[BaseException] = []

    def write(number: int) -> None:
        start.wait()
        try:
            tokens[number] = box.encrypt(f"secret {number}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reader = _fresh_box(key_file)
    assert {n: reader.decrypt(t) for n, t in tokens.items()} == {
        n: f"secret {n}" for n in range(WRITERS)
    }
    assert reader.key_count == 1
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["secret.key"]  # no temp left


def test_processes_creating_the_first_key_share_one(tmp_path: Path) -> None:
    key_file = tmp_path / "home" / "secret.key"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", ENCRYPT_ONCE, str(key_file), f"secret {n}"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [w.communicate("go\n", timeout=60)[0].strip() for w in writers]
    assert all(w.returncode == 0 for w in writers)
    reader = _fresh_box(key_file)
    assert [reader.decrypt(token) for token in outputs] == [f"secret {n}" for n in range(4)]
    assert reader.key_count == 1
