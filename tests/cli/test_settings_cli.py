"""The quick flow through the installed command, and every bad input refused with exit 1 and
nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.context import build_context
from tests.support.storage import stored_bytes


def test_quick_flow_through_the_installed_command(home: Path, settings) -> None:
    env = {**os.environ, "MAILBELL_HOME": str(home)}
    env.pop("MAILBELL_DATABASE_URL", None)
    env.pop("MAILBELL_SECRET_KEYS", None)

    def mailbell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailbell", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert mailbell("tenant", "add", "acme").returncode == 0
    setting = mailbell(
        "settings",
        "set",
        "--tenant",
        "acme",
        "server=smtp.example.com",
        "port=587",
        "username=u",
        "mail_from=alerts@x.org",
        "password=Hunter2-Secret",
        "recipients=a@x.org,b@x.org",
        "notify_queue_call_lost=true",
    )
    assert setting.returncode == 0, setting.stderr
    shown = mailbell("settings", "show", "--tenant", "acme", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["server"] == "smtp.example.com"
    assert data["port"] == 587
    assert data["recipients"] == "a@x.org,b@x.org"
    assert data["notify_queue_call_lost"] is True
    assert "password" not in data
    assert "Hunter2-Secret" not in shown.stdout + setting.stdout + setting.stderr
    for path in home.iterdir():
        assert b"Hunter2-Secret" not in path.read_bytes(), path
    ctx = build_context(settings, migrate=False)
    assert b"Hunter2-Secret" not in stored_bytes(ctx, home)
    ctx.close()


def test_settings_set_is_partial(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    first = [
        "server=smtp.example.com",
        "username=u",
        "mail_from=a@x.org",
        "password=pw-1",
        "recipients=a@x.org",
    ]
    assert cli("settings", "set", "--tenant", "acme", *first).code == 0
    assert cli("settings", "set", "--tenant", "acme", "port=2525").code == 0
    data = json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)
    assert (data["server"], data["port"], data["username"]) == ("smtp.example.com", 2525, "u")
    assert data["recipients"] == "a@x.org"


def test_system_settings(cli) -> None:
    result = cli(
        "settings",
        "set",
        "--system",
        "apply_to_all_tenants=true",
        "recipients=ops@x.org",
        "notify_disk_low=false",
        "server=mail.example.net",
        "auth=DISABLE",
        "mail_from=ops@x.org",
        "port=25",
        "enable_tls_ssl=false",
    )
    assert result.code == 0, result.err
    data = json.loads(cli("settings", "show", "--system", "--json").out)
    assert data["apply_to_all_tenants"] is True
    assert data["notify_disk_low"] is False
    assert data["notify_trunk_disconnected"] is True
    assert data["security"] == "none"
    assert cli("tenant", "add", "acme").code == 0
    tenant = json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)
    assert tenant["effective_mail_server"] == "system"


def test_owner_is_required(cli) -> None:
    assert cli("settings", "show").code == 2
    assert cli("settings", "show", "--tenant", "a", "--system").code == 2


BAD_SETTINGS = [
    (["port=0"], "port"),
    (["port=65536"], "port"),
    (["port=abc"], "port"),
    (["username=" + "u" * 129], "username"),
    (["recipients=" + ",".join(f"r{i}@x.org" for i in range(16))], "recipients"),
    (["recipients=a@b@c"], "recipients"),
    (["recipients=a@x.org\r\nBcc: evil@x.org"], "recipients"),
    (["reply_to=Ops\r\n <ops@x.org>"], "reply_to"),
    (["auth=MAGIC"], "auth"),
    (["type=POSTFIX"], "type"),
    (["security=maybe"], "security"),
    (["notify_queue_sla_breached=true", "recipients="], "notify_queue_sla_breached"),
    (["bogus_field=1"], "bogus_field"),
]


@pytest.mark.parametrize(("assignments", "field"), BAD_SETTINGS)
def test_bad_settings_are_refused_and_change_nothing(cli, db_dump, assignments, field) -> None:
    assert cli("tenant", "add", "acme").code == 0
    setup = [
        "server=smtp.example.com",
        "username=u",
        "mail_from=a@x.org",
        "password=pw",
        "recipients=",
    ]
    assert cli("settings", "set", "--tenant", "acme", *setup).code == 0
    before = db_dump()
    result = cli("settings", "set", "--tenant", "acme", *assignments)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), result.err
    assert "Traceback" not in result.err
    assert db_dump() == before


def test_first_configuration_needs_a_server(cli, db_dump) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli("settings", "set", "--tenant", "acme", "username=u", "port=587")
    assert result.code == 1
    assert result.err.startswith("error: server:")
    assert db_dump() == before
    result = cli("settings", "set", "--tenant", "acme", "server=smtp.example.com")
    assert result.code == 1
    assert result.err.startswith("error: username:")
    assert db_dump() == before


def test_emptying_recipients_while_an_event_is_enabled_is_refused(cli, db_dump) -> None:
    assert cli("tenant", "add", "acme").code == 0
    args = ["recipients=a@x.org", "notify_queue_callback=true"]
    assert cli("settings", "set", "--tenant", "acme", *args).code == 0
    before = db_dump()
    result = cli("settings", "set", "--tenant", "acme", "recipients=")
    assert result.code == 1 and result.err.startswith("error: recipients:")
    assert db_dump() == before


def test_unknown_tenant(cli) -> None:
    result = cli("settings", "show", "--tenant", "nope")
    assert result.code == 1
    assert "tenant 'nope' does not exist" in result.err


def test_usage_error_is_exit_2(cli) -> None:
    assert cli("settings", "set", "--tenant", "acme", "no-equals-sign").code == 2
    assert cli("tenant", "frobnicate").code == 2
