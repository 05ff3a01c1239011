"""`mailbell ssh key add|list|remove` (checked input, never the key data shown) and the
command's weight: `--help` loads neither asyncssh nor Textual, the server never Textual."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.console_keys import new_key_pair

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def key_line(tmp_path: Path) -> str:
    return new_key_pair(tmp_path / "keys", "alice")[1]


def test_key_add_list_remove(cli, settings, key_line) -> None:
    assert cli("tenant", "add", "acme").code == 0
    assert cli("tenant", "add", "globex").code == 0
    added = cli(
        "ssh", "key", "add", "--name", "alice", "--role", "tenant-admin",
        "--tenants", "acme,globex", "--key", key_line,
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "alice added: tenant-admin of acme, globex, SHA256:" in added.out
    assert settings.ssh_keys_file.stat().st_mode & 0o777 == 0o600

    table = cli("ssh", "key", "list")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:4] == ["NAME", "ROLE", "TENANTS", "KEY_TYPE"]
    assert "alice  tenant-admin  acme,globex" in table.out
    listed = json.loads(cli("ssh", "key", "list", "--json").out)
    assert [(k["name"], k["role"], k["tenants"]) for k in listed] == [
        ("alice", "tenant-admin", ["acme", "globex"])
    ]
    assert listed[0]["fingerprint"].startswith("SHA256:")
    key_data = key_line.split()[1]
    assert key_data not in table.out and key_data not in json.dumps(listed)

    removed = cli("ssh", "key", "remove", "alice")
    assert removed.code == 0 and "alice removed" in removed.out
    assert json.loads(cli("ssh", "key", "list", "--json").out) == []


def test_key_add_reads_the_key_from_stdin(cli, key_line, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(key_line + "\n"))
    added = cli("ssh", "key", "add", "--name", "watcher", "--role", "viewer", "--key", "-")
    assert added.code == 0, added.err
    assert "watcher added: viewer of every tenant" in added.out
    assert json.loads(cli("ssh", "key", "list", "--json").out)[0]["tenants"] is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--role", "tenant-admin", "--tenants", "initech"], "--tenants: no tenant initech"),
        (["--role", "tenant-admin"], "--tenants: a tenant-admin key names at least one tenant"),
        (["--role", "system-admin", "--tenants", "acme"], "--tenants: a system-admin key"),
        (["--role", "root"], "--role: 'root' is not one of"),
        (["--role", "viewer", "--name", "bad name!"], "--name: use 1-63 letters"),
        (["--role", "viewer", "--key", "ssh-ed25519 AAAA"], "--key:"),
        (["--role", "viewer", "--key", "hello"], "--key: expected a public key line"),
    ],
)
def test_key_add_refuses_bad_input_and_writes_nothing(
    cli, settings, key_line, options, message
) -> None:
    assert cli("tenant", "add", "acme").code == 0
    args = ["ssh", "key", "add", "--name", "alice", "--key", key_line]
    result = cli(*args, *options)
    assert result.code == 1
    assert message in result.err
    assert not settings.ssh_keys_file.exists()


def test_key_add_refuses_a_duplicate_name_or_key(cli, tmp_path, key_line) -> None:
    assert cli("ssh", "key", "add", "--name", "a", "--role", "viewer", "--key", key_line).code == 0
    same_name = cli("ssh", "key", "add", "--name", "a", "--role", "viewer", "--key",
                    new_key_pair(tmp_path / "other", "b")[1])  # fmt: skip
    assert same_name.code == 1 and "named 'a' exists" in same_name.err
    same_key = cli("ssh", "key", "add", "--name", "b", "--role", "viewer", "--key", key_line)
    assert same_key.code == 1 and "already in the file, as 'a'" in same_key.err


def test_removing_an_unknown_key_is_an_error(cli) -> None:
    result = cli("ssh", "key", "remove", "nobody")
    assert result.code == 1
    assert "no SSH key is named 'nobody'" in result.err


def test_help_and_the_server_stay_light() -> None:
    script = (
        "import sys\n"
        "from mailbell.cli import run\n"
        "assert run(['ssh', '--help']) == 0\n"
        "heavy = [m for m in ('asyncssh', 'textual', 'sqlalchemy') if m in sys.modules]\n"
        "import tui.ssh.server\n"
        "heavy += [m for m in ('textual',) if m in sys.modules]\n"
        "print(','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "key" in result.stdout and "--port" in result.stdout
    assert result.stderr.strip() == ""
