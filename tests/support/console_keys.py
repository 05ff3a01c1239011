"""Console keys for tests: a fresh key pair, its line in mailbell's keys file, and a TUI
session acting as it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.config import Settings
from core.ssh_keys import SshKey, add_key, make_key


@dataclass(frozen=True)
class ConsoleKey:
    key: SshKey
    private_path: Path  # OpenSSH private key file, 0600 (for ssh -i / asyncssh)
    public_line: str


def new_key_pair(folder: Path, name: str) -> tuple[Path, str]:
    """A throwaway ed25519 pair: the private key file and the public key line."""
    private = Ed25519PrivateKey.generate()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_ed25519"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return path, f"{public.decode()} {name}@test"


def add_console_key(
    settings: Settings, name: str, role: str, tenants: Iterable[str] | None = None
) -> ConsoleKey:
    """Add a key named `name` with `role` (and `tenants`) to the settings' keys file."""
    private_path, line = new_key_pair(settings.home / "client-keys", name)
    key = make_key(name=name, role=role, tenants=tenants, key_line=line)
    add_key(settings.ssh_keys_file, key)
    return ConsoleKey(key=key, private_path=private_path, public_line=line)
