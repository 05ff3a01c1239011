"""`mailbell export` and `mailbell import`: JSON on stdout, a report line per item, exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.context import Context
from core.services.audit import Actor
from tests.cli_fixtures import Result
from tests.support.settings_copy import (  # noqa: F401
    SECRETS,
    build_acme,
    other_context,
    other_home,
    owner_view,
    stored_secrets,
)
from tests.support.storage import dump

Cli = Callable[..., Result]


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text("correct horse battery\n")
    return path


@pytest.fixture
def use_other(
    monkeypatch: pytest.MonkeyPatch,
    other_home: tuple[Path, str | None],  # noqa: F811
) -> Callable[[], None]:
    """Point the CLI at the other mailbell (its home and database) from now on."""

    def switch() -> None:
        home, url = other_home
        monkeypatch.setenv("MAILBELL_HOME", str(home))
        if url is None:
            monkeypatch.delenv("MAILBELL_DATABASE_URL", raising=False)
        else:
            monkeypatch.setenv("MAILBELL_DATABASE_URL", url)

    return switch


def test_export_writes_sorted_json_without_secrets(cli: Cli, ctx: Context, actor: Actor) -> None:
    build_acme(ctx, actor)

    result = cli("export", "--tenant", "acme")

    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert result.out == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert document["scope"] == "tenant" and document["system"] is None
    assert [t["slug"] for t in document["tenants"]] == ["acme"]
    for secret in SECRETS.values():
        assert secret not in result.out


def test_export_with_secrets_seals_them(
    cli: Cli, ctx: Context, actor: Actor, passphrase_file: Path
) -> None:
    build_acme(ctx, actor)
    result = cli("export", "--all", "--with-secrets", "--passphrase-file", str(passphrase_file))
    assert result.code == 0, result.err
    assert json.loads(result.out)["encryption"]["kdf"] == "scrypt"
    for secret in SECRETS.values():
        assert secret not in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one of --tenant SLUG, --system or --all"),
        (("--system", "--all"), "exactly one of"),
        (("--system", "--with-secrets"), "go together"),
        (("--system", "--passphrase-file", "p"), "go together"),
    ],
)
def test_export_usage_errors(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli("export", *args)
    assert result.code == 2
    assert message in result.err


def test_export_refuses_a_short_passphrase(cli: Cli, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("secret\n")
    result = cli("export", "--system", "--with-secrets", "--passphrase-file", str(short))
    assert result.code == 1
    assert "error: passphrase: must be at least 8 characters" in result.err
    assert result.out == ""


def test_export_of_a_missing_tenant_fails(cli: Cli) -> None:
    result = cli("export", "--tenant", "nobody")
    assert result.code == 1
    assert "tenant 'nobody' does not exist" in result.err


def test_import_into_a_fresh_database_and_again(
    cli: Cli,
    ctx: Context,
    actor: Actor,
    tmp_path: Path,
    passphrase_file: Path,
    use_other: Callable[[], None],
    other_home: tuple[Path, str | None],  # noqa: F811
) -> None:
    build_acme(ctx, actor)
    exported = cli(
        "export", "--tenant", "acme", "--with-secrets", "--passphrase-file", str(passphrase_file)
    )
    file = tmp_path / "acme.json"
    file.write_text(exported.out)
    mine = owner_view(ctx, "acme")
    use_other()

    first = cli("import", str(file), "--passphrase-file", str(passphrase_file))
    second = cli("import", str(file), "--passphrase-file", str(passphrase_file))

    assert first.code == 0, first.err
    assert "tenant acme: created" in first.out.splitlines()
    assert "mail_server acme Primary: created" in first.out.splitlines()
    assert first.out.splitlines()[-1].startswith("7 created, 1 updated, 0 unchanged")
    assert second.code == 0, second.err
    assert second.out.splitlines()[-1].startswith("0 created, 0 updated, 8 unchanged")
    assert "nothing in the database was deleted" in second.out
    other = other_context(other_home)
    try:
        assert owner_view(other, "acme") == mine
        assert stored_secrets(other, "acme") == SECRETS
    finally:
        other.close()


def test_import_from_stdin_dry_run_changes_nothing(
    cli: Cli,
    ctx: Context,
    actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
    use_other: Callable[[], None],
    other_home: tuple[Path, str | None],  # noqa: F811
) -> None:
    build_acme(ctx, actor)
    exported = cli("export", "--tenant", "acme").out
    use_other()
    other = other_context(other_home)
    url = other.settings.effective_database_url
    other.close()
    before = dump(url)
    monkeypatch.setattr("sys.stdin", io.StringIO(exported))

    result = cli("import", "-", "--dry-run")

    assert result.code == 0, result.err
    assert "tenant acme: created" in result.out
    assert "secrets are not in the file" in result.out
    assert "dry run: nothing was changed" in result.out
    assert dump(url) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"mailbell_export": 9}', "mailbell_export: version 9 is not supported"),
        ("not json", "FILE: is not JSON (line 1, column 1"),
        (
            '{"mailbell_export": 1, "exported_at": "x", "scope": "all", "system": null,'
            ' "tenants": [{"slug": 5}]}',
            "tenants[0].settings: is required",
        ),
    ],
)
def test_import_refuses_a_bad_file(
    cli: Cli, db_dump: Callable[[], str], tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    before = db_dump()

    result = cli("import", str(file))

    assert result.code == 1
    assert f"error: {message}" in result.err
    assert db_dump() == before


def test_import_with_a_wrong_passphrase(
    cli: Cli, ctx: Context, actor: Actor, tmp_path: Path, passphrase_file: Path
) -> None:
    build_acme(ctx, actor)
    exported = cli(
        "export", "--tenant", "acme", "--with-secrets", "--passphrase-file", str(passphrase_file)
    )
    file = tmp_path / "acme.json"
    file.write_text(exported.out)
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase\n")

    result = cli("import", str(file), "--passphrase-file", str(wrong))
    missing = cli("import", str(file))

    assert result.code == 1
    assert "error: passphrase: is wrong" in result.err
    assert missing.code == 1
    assert "error: passphrase: is required" in missing.err


def test_help_lists_both_commands(cli: Cli) -> None:
    result = cli("--help")
    assert "export" in result.out and "import" in result.out
