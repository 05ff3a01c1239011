"""mailbell's SSH keys file: each line checked, written 0600, bad lines named by number."""

from __future__ import annotations

import stat

import pytest

from core.errors import Conflict, NotFound, ValidationError
from core.ssh_keys import add_key, find_key, make_key, parse_public_key, read_keys, remove_key
from core.vocabulary import Role
from tests.support.console_keys import new_key_pair


@pytest.fixture
def key_line(tmp_path) -> str:
    return new_key_pair(tmp_path / "keys", "alice")[1]


def test_keys_are_added_found_listed_and_removed(tmp_path, key_line) -> None:
    path = tmp_path / "home" / "ssh_authorized_keys"
    other = new_key_pair(tmp_path / "keys", "bob")[1]
    add_key(path, make_key(name="alice", role="tenant-admin", tenants=["acme"], key_line=key_line))
    add_key(path, make_key(name="bob", role="viewer", tenants=None, key_line=other))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    alice = find_key(path, "alice")
    assert alice.role is Role.TENANT_ADMIN and alice.tenants == frozenset({"acme"})
    assert alice.grant.may_write("acme") and not alice.grant.may_read("globex")
    assert find_key(path, "bob").grant.may_read("globex")
    assert alice.fingerprint.startswith("SHA256:") and "AAAA" not in str(alice.as_json())
    assert [k.name for k in read_keys(path)] == ["alice", "bob"]
    assert remove_key(path, "alice").name == "alice"
    assert [k.name for k in read_keys(path)] == ["bob"]
    with pytest.raises(NotFound, match="'alice'"):
        remove_key(path, "alice")


def test_a_name_or_a_key_twice_is_a_conflict(tmp_path, key_line) -> None:
    path = tmp_path / "keys.txt"
    add_key(path, make_key(name="alice", role="system-admin", tenants=None, key_line=key_line))
    with pytest.raises(Conflict, match="named 'alice'"):
        other = new_key_pair(tmp_path, "other")[1]
        add_key(path, make_key(name="alice", role="viewer", tenants=None, key_line=other))
    with pytest.raises(Conflict, match="already in the file, as 'alice'"):
        add_key(path, make_key(name="alice2", role="viewer", tenants=None, key_line=key_line))


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"name": "-x"}, "name", "starting alphanumeric"),
        ({"role": "root"}, "role", "not one of system-admin, tenant-admin, viewer"),
        ({"role": "tenant-admin", "tenants": None}, "tenants", "at least one tenant"),
        ({"role": "system-admin", "tenants": ["acme"]}, "tenants", "drop --tenants"),
        ({"tenants": ["Not A Slug"]}, "tenants", "not a tenant slug"),
        ({"key_line": "ssh-dss AAAAB3Nz"}, "key", "'ssh-dss' is not one of"),
        ({"key_line": "ssh-ed25519 not*base64"}, "key", "not valid base64"),
        ({"key_line": "ssh-ed25519"}, "key", "expected a public key line"),
    ],
)
def test_each_rule_names_its_field(key_line, fields, field, rule) -> None:
    values = {"name": "alice", "role": "viewer", "tenants": None, "key_line": key_line, **fields}
    with pytest.raises(ValidationError, match=rule) as caught:
        make_key(**values)
    assert caught.value.field == field


def test_a_key_of_another_type_or_truncated_is_refused(key_line) -> None:
    key_type, data, comment = parse_public_key(key_line)
    assert (key_type, comment) == ("ssh-ed25519", "alice@test")
    with pytest.raises(ValidationError, match="not an ssh-rsa key"):
        parse_public_key(f"ssh-rsa {data}")
    with pytest.raises(ValidationError, match="truncated"):
        parse_public_key(f"ssh-ed25519 {data[:8]}")


def test_a_bad_line_in_a_hand_edited_file_is_named(tmp_path, key_line) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"# mine\n\nalice viewer * {key_line}\nbob superuser * {key_line}\n")
    with pytest.raises(ValidationError, match=r"keys.txt:4: role: 'superuser' is not one of"):
        read_keys(path)
    assert read_keys(tmp_path / "missing") == []
