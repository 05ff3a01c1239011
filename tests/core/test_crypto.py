"""Secrets are encrypted at rest, rotate cleanly, and fail with an error naming the fix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from core.config import Settings
from core.context import build_context
from core.crypto import KeySource, SecretBox
from core.errors import SecretKeyError
from core.models.delivery import EventRecord
from core.models.mail import MailServer, MailServerCreate
from core.pipeline.contents import message_of
from core.services.keys import rotate_keys
from core.services.mail_servers import create_mail_server
from tests.support.outbox import queue_deliveries
from tests.support.storage import stored_bytes

SECRET = "Hunter2-Secret"


def _add_server(ctx, actor, password: str = SECRET) -> MailServer:
    with ctx.session() as session:
        return create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            data=MailServerCreate.from_fields(
                {
                    "name": "main",
                    "host": "smtp.example.com",
                    "username": "u",
                    "mail_from": "alerts@example.com",
                    "password": password,
                    "oauth_client_secret": "client-" + password,
                }
            ),
            actor=actor,
        )


def test_key_file_is_created_private(tmp_path: Path) -> None:
    box = SecretBox(KeySource(env_keys=None, key_file=tmp_path / "d" / "secret.key"))
    token = box.encrypt("x")
    assert box.decrypt(token) == "x"
    mode = stat.S_IMODE((tmp_path / "d" / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_no_secret_in_the_raw_database(ctx, actor, home: Path) -> None:
    _add_server(ctx, actor)
    stored = stored_bytes(ctx, home)
    assert b"smtp.example.com" in stored  # the dump does see plain columns
    assert SECRET.encode() not in stored
    with ctx.session() as session:
        server = session.exec(select(MailServer)).one()
        assert server.password_enc and ctx.box.decrypt(server.password_enc) == SECRET


def test_rotation_with_key_file(ctx, actor, home: Path) -> None:
    _add_server(ctx, actor)
    with ctx.session() as session:
        before = session.exec(select(MailServer)).one().password_enc
        assert rotate_keys(session=session, box=ctx.box, actor=actor) == 2
    keys = (home / "secret.key").read_text().split()
    assert len(keys) == 2
    with ctx.session() as session:
        after = session.exec(select(MailServer)).one().password_enc
    assert after != before
    # The new primary alone opens every secret: the old key may be dropped later.
    assert Fernet(keys[0]).decrypt(after.encode()).decode() == SECRET


def test_rotation_with_env_keys(home: Path, actor) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ctx = build_context(Settings(home=home, secret_keys=old))
    _add_server(ctx, actor)
    ctx.close()
    ctx = build_context(Settings(home=home, secret_keys=f"{new},{old}"))
    with ctx.session() as session:
        assert rotate_keys(session=session, box=ctx.box, actor=actor) == 2
    ctx.close()
    ctx = build_context(Settings(home=home, secret_keys=new))
    with ctx.session() as session:
        server = session.exec(select(MailServer)).one()
        assert ctx.box.decrypt(server.password_enc) == SECRET
    ctx.close()


def test_rotation_reseals_messages_and_payloads(home: Path, actor) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ctx = build_context(Settings(home=home, secret_keys=old))
    with ctx.session() as session:
        [delivery_id] = queue_deliveries(ctx, session, actor, 1)
    ctx.close()
    ctx = build_context(Settings(home=home, secret_keys=f"{new},{old}"))
    with ctx.session() as session:
        rotate_keys(session=session, box=ctx.box, actor=actor)
    ctx.close()
    ctx = build_context(Settings(home=home, secret_keys=new))  # the old key dropped
    with ctx.session() as session:
        message = ctx.box.decrypt_bytes(message_of(session, delivery_id))
        event = session.exec(select(EventRecord)).one()
        assert event.payload_enc is not None
        payload = ctx.box.decrypt_bytes(event.payload_enc)
    assert b"Message-ID:" in message and b"queue" in payload
    ctx.close()


def test_wrong_key_names_the_fix_and_changes_nothing(home: Path, actor) -> None:
    ctx = build_context(Settings(home=home, secret_keys=Fernet.generate_key().decode()))
    _add_server(ctx, actor)
    ctx.close()
    ctx = build_context(Settings(home=home, secret_keys=Fernet.generate_key().decode()))
    with ctx.session() as session:
        before = session.exec(select(MailServer)).one().password_enc
        with pytest.raises(SecretKeyError, match="MAILBELL_SECRET_KEYS"):
            rotate_keys(session=session, box=ctx.box, actor=actor)
    with ctx.session() as session:
        assert session.exec(select(MailServer)).one().password_enc == before
    ctx.close()


def test_malformed_key_is_a_clear_error(tmp_path: Path) -> None:
    box = SecretBox(KeySource(env_keys="not-a-key", key_file=tmp_path / "k"))
    with pytest.raises(SecretKeyError, match="key 1 in MAILBELL_SECRET_KEYS is not a Fernet key"):
        box.encrypt("x")


def test_keys_rotate_command_reports_wrong_key(cli, monkeypatch) -> None:
    monkeypatch.setenv("MAILBELL_SECRET_KEYS", Fernet.generate_key().decode())
    assert (
        cli(
            "server",
            "add",
            "--system",
            "--name",
            "A",
            "--host",
            "a.org",
            "--username",
            "u",
            "--from",
            "alerts@a.org",
            "--password",
            SECRET,
        ).code
        == 0
    )
    monkeypatch.setenv("MAILBELL_SECRET_KEYS", Fernet.generate_key().decode())
    result = cli("keys", "rotate")
    assert result.code == 1
    assert "MAILBELL_SECRET_KEYS" in result.err and "Traceback" not in result.err
    assert SECRET not in result.err


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 KiB tmpfs (root: what CI runs as)."""
    from tests.support.broken_storage import IS_ROOT, _run

    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount))
    yield mount
    _run("umount", str(mount))


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_key_file_on_a_broken_disk_is_a_storage_error(small_disk: Path, fault: str) -> None:
    from core.errors import StorageFullError, StorageReadOnlyError
    from tests.support.broken_storage import _run, fill_filesystem

    if fault == "full":
        fill_filesystem(small_disk)
        expected: type[Exception] = StorageFullError
    else:
        _run("mount", "-o", "remount,ro", str(small_disk))
        expected = StorageReadOnlyError
    key_file = small_disk / "secret.key"
    box = SecretBox(KeySource(env_keys=None, key_file=key_file))
    with pytest.raises(expected) as caught:
        box.encrypt("hunter2")
    assert str(key_file) in str(caught.value) and "nothing was recorded" in str(caught.value)
    assert not key_file.exists() and not key_file.with_name("secret.key.tmp").exists()
