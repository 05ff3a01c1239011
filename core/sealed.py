"""Bulk data at rest (rendered messages, event payloads), sealed with AES-256-GCM.

Fernet (`core.crypto`) protects the short secrets. For a 7 KB message it cost about 47 µs to
open, mostly base64: a twelfth of the worker's CPU per send (bench/pipeline.py (b)). A sealed
blob is binary and opens in about 5 µs:

    b"MB1" | key id (8 bytes) | salt (16 bytes) | AES-256-GCM ciphertext and tag

Each blob's AES key is derived with HKDF-SHA256 from a ring key and the blob's random salt (the
construction of the AWS Encryption SDK), so no AES key encrypts twice and the fixed nonce is
safe. The key id, derived the same way, names the ring key that opens the blob without revealing
anything about it. The header is authenticated with the ciphertext.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"MB1"
_HEADER = len(MAGIC) + 8
_SALT = 16
_NONCE = bytes(12)  # every blob has its own key
_KEY_INFO = b"mailbell sealed blob key"
_ID_INFO = b"mailbell sealed blob key id"


class UnopenableBlob(Exception):
    """No key of the ring opens the blob, or it was altered."""


@dataclass(frozen=True)
class BlobKey:
    key_id: bytes
    material: bytes

    @classmethod
    def derive(cls, material: bytes) -> BlobKey:
        """The blob key of one ring key (its 32 raw bytes)."""
        key_id = HKDF(SHA256(), 8, salt=None, info=_ID_INFO).derive(material)
        return cls(key_id=key_id, material=material)


def _aes(material: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(SHA256(), 32, salt=salt, info=_KEY_INFO).derive(material))


def seal(key: BlobKey, data: bytes) -> bytes:
    salt = os.urandom(_SALT)
    header = MAGIC + key.key_id
    return header + salt + _aes(key.material, salt).encrypt(_NONCE, data, header)


def is_sealed(token: bytes) -> bool:
    """A sealed blob (not a Fernet token, which is base64 text starting with "gAAAAA")."""
    return token[: len(MAGIC)] == MAGIC


def open_sealed(keys: Sequence[BlobKey], token: bytes) -> bytes:
    header, salt = token[:_HEADER], token[_HEADER : _HEADER + _SALT]
    key_id = header[len(MAGIC) :]
    for key in keys:
        if key.key_id == key_id:
            try:
                return _aes(key.material, salt).decrypt(_NONCE, token[_HEADER + _SALT :], header)
            except InvalidTag:
                raise UnopenableBlob("the blob was altered or is truncated") from None
    raise UnopenableBlob("no key of the ring sealed this blob")
