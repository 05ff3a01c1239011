"""Bulk data (messages, payloads) is sealed with the ring's keys, opens after rotation, and
Fernet tokens of earlier versions still open."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from core.crypto import KeySource, SecretBox
from core.errors import SecretKeyError
from core.sealed import MAGIC, BlobKey, is_sealed, open_sealed, seal

MESSAGE = b"Subject: Welcome\r\n\r\nYour password is Welcome-Pass-991\r\n" * 50


def box_with(keys: list[str], tmp_path: Path) -> SecretBox:
    return SecretBox(KeySource(env_keys=",".join(keys), key_file=tmp_path / "unused"))


def test_sealed_data_opens_and_hides_the_plain_text(tmp_path: Path) -> None:
    box = box_with([Fernet.generate_key().decode()], tmp_path)
    sealed = box.encrypt_bytes(MESSAGE)
    assert is_sealed(sealed) and b"Welcome-Pass-991" not in sealed
    assert box.decrypt_bytes(sealed) == MESSAGE
    # A fresh salt each time: the same message never seals to the same bytes.
    assert box.encrypt_bytes(MESSAGE) != sealed
    assert box.decrypt_bytes(box.encrypt_bytes(b"")) == b""


def test_a_fernet_token_of_an_earlier_version_still_opens(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    legacy = MultiFernet([Fernet(key)]).encrypt(MESSAGE)
    box = box_with([key], tmp_path)
    assert not is_sealed(legacy)
    assert box.decrypt_bytes(legacy) == MESSAGE
    rotated = box.rotate_bytes(legacy)  # `keys rotate` turns it into a sealed blob
    assert is_sealed(rotated) and box.decrypt_bytes(rotated) == MESSAGE


def test_any_key_of_the_ring_opens_and_rotation_moves_to_the_first(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = box_with([old], tmp_path).encrypt_bytes(MESSAGE)
    ring = box_with([new, old], tmp_path)
    assert ring.decrypt_bytes(sealed) == MESSAGE
    rotated = ring.rotate_bytes(sealed)
    assert box_with([new], tmp_path).decrypt_bytes(rotated) == MESSAGE
    with pytest.raises(SecretKeyError, match="MAILBELL_SECRET_KEYS"):
        box_with([new], tmp_path).decrypt_bytes(sealed)


@pytest.mark.parametrize("where", ["header", "salt", "body", "tag", "truncated"])
def test_altered_data_does_not_open(tmp_path: Path, where: str) -> None:
    box = box_with([Fernet.generate_key().decode()], tmp_path)
    sealed = bytearray(box.encrypt_bytes(MESSAGE))
    if where == "truncated":
        sealed = sealed[:-1]
    else:
        position = {"header": len(MAGIC) + 2, "salt": 15, "body": 200, "tag": len(sealed) - 1}
        sealed[position[where]] ^= 0x01
    with pytest.raises(SecretKeyError, match="cannot be decrypted") as caught:
        box.decrypt_bytes(bytes(sealed))
    assert "Welcome" not in str(caught.value)


def test_blob_keys_differ_per_ring_key_and_name_no_key_material() -> None:
    first, second = (BlobKey.derive(Fernet.generate_key()[:32]) for _ in range(2))
    assert first.key_id != second.key_id and len(first.key_id) == 8
    sealed = seal(first, MESSAGE)
    assert first.material not in sealed
    assert open_sealed([second, first], sealed) == MESSAGE
