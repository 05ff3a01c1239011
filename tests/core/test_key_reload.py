"""A running process follows a key file rewritten by another (`mailbell keys rotate`): a secret
that does not open, once the file's identity changed, reloads the ring and opens; encrypting
moves to the new first key; an unknown key still fails naming what to restore; SIGHUP reloads
in `mailbell serve` and `mailbell worker`; MAILBELL_SECRET_KEYS is read once."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import core.crypto
from core.context import Context
from core.crypto import KeySource, SecretBox
from core.errors import SecretKeyError
from mailbell.serve import reload_keys, serve

ROOT = Path(__file__).resolve().parents[2]


def _box(key_file: Path) -> SecretBox:
    return SecretBox(KeySource(env_keys=None, key_file=key_file))


def _keys(key_file: Path) -> list[str]:
    return key_file.read_text().split()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "secret.key"


@pytest.fixture
def look_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encrypting looks at the key file every time (not once a second): no waiting in tests."""
    monkeypatch.setattr(core.crypto, "ENCRYPT_LOOK_S", 0.0)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every time a box reads the key file."""
    seen: list[Path] = []
    original = core.crypto._read_key_file_with_identity

    def counting(path: Path) -> tuple[str, core.crypto.FileIdentity]:
        seen.append(path)
        return original(path)

    monkeypatch.setattr(core.crypto, "_read_key_file_with_identity", counting)
    return seen


def test_a_box_opens_what_another_sealed_after_rotating_the_key_file(key_file: Path) -> None:
    serving, rotating = _box(key_file), _box(key_file)
    old_secret = serving.encrypt("old")  # the serving box has loaded the first key
    rotating.add_primary_key()  # `keys rotate` in another process: [new, old]
    new_key = _keys(key_file)[0]
    secret = rotating.rotate_token(old_secret)
    blob = rotating.encrypt_bytes(b"queued message")

    assert serving.decrypt(secret) == "old"
    assert serving.decrypt_bytes(blob) == b"queued message"
    assert serving.key_count == 2
    # New secrets go under the new first key: the old one may now be dropped from the file.
    assert Fernet(new_key).decrypt(serving.encrypt("later").encode()) == b"later"


def test_encrypting_moves_to_the_new_first_key_without_a_failed_decrypt(
    key_file: Path, look_always: None
) -> None:
    serving, rotating = _box(key_file), _box(key_file)
    serving.encrypt("load")
    rotating.add_primary_key()
    new_key = _keys(key_file)[0]

    assert Fernet(new_key).decrypt(serving.encrypt("x").encode()) == b"x"
    blob = serving.encrypt_bytes(b"payload")
    only_new = _box(key_file)
    key_file.write_text(new_key + "\n")  # the old key dropped
    assert only_new.decrypt_bytes(blob) == b"payload"


def test_encrypting_looks_at_the_key_file_once_a_second_at_most(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[Path] = []
    original = core.crypto._file_identity

    def counting(path: Path) -> core.crypto.FileIdentity | None:
        looks.append(path)
        return original(path)

    monkeypatch.setattr(core.crypto, "_file_identity", counting)
    box = _box(key_file)
    started = time.monotonic()
    for _ in range(200):
        box.encrypt_bytes(b"x")
    elapsed = time.monotonic() - started

    assert 1 <= len(looks) <= 1 + int(elapsed / core.crypto.ENCRYPT_LOOK_S)


def test_an_unknown_key_still_fails_naming_what_to_restore(
    key_file: Path, reads: list[Path]
) -> None:
    box = _box(key_file)
    box.encrypt("load")
    foreign = Fernet(Fernet.generate_key()).encrypt(b"hunter2").decode()
    assert len(reads) == 1

    with pytest.raises(SecretKeyError) as caught:
        box.decrypt(foreign)

    message = str(caught.value)
    assert message == (
        f"a stored secret cannot be decrypted with the keys in the key file {key_file}: "
        f"restore the key that encrypted it (add it to the key file {key_file})"
    )
    assert "hunter2" not in message and _keys(key_file)[0] not in message
    assert reads == [key_file]  # the file had not changed: not read again
    with pytest.raises(SecretKeyError, match="stored data cannot be decrypted"):
        box.decrypt_bytes(b"MB1" + bytes(40))


def test_an_unknown_key_after_a_rotation_reloads_once_then_fails(
    key_file: Path, reads: list[Path]
) -> None:
    box = _box(key_file)
    box.encrypt("load")
    _box(key_file).add_primary_key()
    foreign = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    reads.clear()

    for _ in range(3):
        with pytest.raises(SecretKeyError, match="restore the key that encrypted it"):
            box.decrypt(foreign)

    assert reads == [key_file]  # reloaded for the first failure only
    assert box.key_count == 2


def test_environment_keys_are_read_once_and_the_error_says_to_restart(tmp_path: Path) -> None:
    box = SecretBox(KeySource(env_keys=Fernet.generate_key().decode(), key_file=tmp_path / "k"))
    foreign = Fernet(Fernet.generate_key()).encrypt(b"x").decode()

    with pytest.raises(SecretKeyError) as caught:
        box.decrypt(foreign)

    assert str(caught.value).endswith(
        "(add it to MAILBELL_SECRET_KEYS); "
        "a running process reads MAILBELL_SECRET_KEYS only when it starts"
    )
    assert not (tmp_path / "k").exists()


def test_a_changed_key_file_that_does_not_load_keeps_the_loaded_keys(
    key_file: Path, reads: list[Path], caplog: pytest.LogCaptureFixture, look_always: None
) -> None:
    box = _box(key_file)
    secret = box.encrypt("kept")
    key = _keys(key_file)[0]
    key_file.write_text("not-a-key\n")  # an editor half way through

    assert box.decrypt(secret) == "kept"
    assert Fernet(key).decrypt(box.encrypt("x").encode()) == b"x"
    assert Fernet(key).decrypt(box.encrypt("y").encode()) == b"y"
    assert len(reads) == 2  # the broken file was tried once, not on every encrypt
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is not a Fernet key" in warnings[0]
    assert "not-a-key" not in caplog.text and key not in caplog.text
    for refresh in (box.refresh, box.reload):
        with pytest.raises(SecretKeyError, match=f"key 1 in the key file {key_file}"):
            refresh()
    assert box.decrypt(secret) == "kept"


def test_a_deleted_key_file_is_not_replaced_by_a_new_key(key_file: Path, look_always: None) -> None:
    box = _box(key_file)
    secret = box.encrypt("kept")
    key_file.unlink()

    assert box.decrypt(secret) == "kept"
    box.encrypt("still the loaded key")
    with pytest.raises(SecretKeyError, match=f"the key file {key_file} is missing: restore it"):
        box.reload()
    assert not key_file.exists()
    assert box.decrypt(secret) == "kept"


def test_threads_decrypting_after_a_rotation_reload_the_file_once(
    key_file: Path, reads: list[Path]
) -> None:
    serving, rotating = _box(key_file), _box(key_file)
    serving.encrypt("load")
    rotating.add_primary_key()
    tokens = [rotating.encrypt(f"secret {n}") for n in range(16)]
    reads.clear()
    start = threading.Barrier(8)
    opened: list[str] = []
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        start.wait()
        for token in part:
            try:
                opened.append(serving.decrypt(token))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(tokens[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(opened) == sorted(f"secret {n}" for n in range(16))
    assert reads == [key_file]


def test_reload_keys_names_the_source_and_no_key(ctx: Context) -> None:
    ctx.box.encrypt("load")
    _box(ctx.box.source.key_file).add_primary_key()

    line = reload_keys(ctx)

    assert (
        line == f"SIGHUP: key ring reloaded from the key file {ctx.box.source.key_file} (2 key(s))"
    )
    for key in _keys(ctx.box.source.key_file):
        assert key not in line


def test_reload_keys_with_environment_keys_says_a_restart_is_needed(tmp_path: Path) -> None:
    class Ctx:
        box = SecretBox(KeySource(env_keys=Fernet.generate_key().decode(), key_file=tmp_path))

    line = reload_keys(Ctx())  # type: ignore[arg-type]

    assert line == (
        "SIGHUP: 1 key(s) in use from MAILBELL_SECRET_KEYS, which is read once when the process "
        "starts: restart it to use a new value"
    )


async def test_sighup_reloads_the_key_ring_in_serve(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    ctx.box.encrypt("load")
    key_file = ctx.box.source.key_file
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="mailbell.serve")
    task = asyncio.create_task(serve(ctx, port=0, worker=False, stop=stop))
    try:
        while not any(r.getMessage().startswith("listening") for r in caplog.records):
            await asyncio.sleep(0.01)
        _box(key_file).add_primary_key()

        os.kill(os.getpid(), signal.SIGHUP)
        while not any("SIGHUP" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        assert await task == 0

    [line] = [r.getMessage() for r in caplog.records if "SIGHUP" in r.getMessage()]
    assert line == f"SIGHUP: key ring reloaded from the key file {key_file} (2 key(s))"
    assert ctx.box._ring is not None and ctx.box._ring.identity is not None
    assert ctx.box.key_count == 2


def _catches(pid: int, sig: signal.Signals) -> bool:
    """Whether process `pid` has a handler for `sig` (Linux: the SigCgt mask of /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_sighup_reloads_the_key_ring_in_the_worker(ctx: Context) -> None:
    ctx.box.encrypt("load")
    key_file = ctx.box.source.key_file
    worker = subprocess.Popen(
        [sys.executable, "-m", "mailbell", "worker"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not _catches(worker.pid, signal.SIGHUP):  # before that, SIGHUP would end it
            assert worker.poll() is None, worker.communicate()[1]
            time.sleep(0.02)
        _box(key_file).add_primary_key()
        worker.send_signal(signal.SIGHUP)
        assert worker.stderr is not None
        line = worker.stderr.readline()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert line == f"SIGHUP: key ring reloaded from the key file {key_file} (2 key(s))\n"
