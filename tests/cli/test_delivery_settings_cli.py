"""`mailbell settings set|show` with mailbell's delivery settings: `digest.EVENT`,
`recipient_mode` and `use_system_server` (and what `settings show` says about the switch)."""

from __future__ import annotations

import json

import pytest

SYSTEM_SERVER = ["server=mail.example.net", "auth=DISABLE", "mail_from=ops@example.net"]
OWN_SERVER = ["server=smtp.acme.org", "auth=DISABLE", "mail_from=pbx@acme.org"]


def _show(cli, *owner: str) -> dict:
    result = cli("settings", "show", *owner, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_digest_policy_is_set_and_shown(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    result = cli(
        "settings",
        "set",
        "--tenant",
        "acme",
        "digest.QUEUE_CALL_LOST=5/10m",
        "digest.QUEUE_SLA=1/90s",
        "recipient_mode=individual",
    )
    assert result.code == 0, result.err
    data = _show(cli, "--tenant", "acme")
    assert data["digest.QUEUE_CALL_LOST"] == "5/10m"
    assert data["digest.QUEUE_SLA"] == "1/90s"
    assert data["digest.USER_CREATION"] == "off"  # the suite's default
    assert data["recipient_mode"] == "individual"
    assert cli("settings", "set", "--tenant", "acme", "digest.QUEUE_CALL_LOST=off").code == 0
    assert _show(cli, "--tenant", "acme")["digest.QUEUE_CALL_LOST"] == "off"
    system = _show(cli, "--system")
    assert "digest.DISK_LOW" in system and "digest.QUEUE_CALL_LOST" not in system
    assert "use_system_server" not in system


@pytest.mark.parametrize(
    ("assignment", "field", "words"),
    [
        ("digest.QUEUE_CALL_LOST=5/10x", "digest.QUEUE_CALL_LOST", "must be AFTER/WINDOW"),
        ("digest.QUEUE_CALL_LOST=", "digest.QUEUE_CALL_LOST", "must be AFTER/WINDOW"),
        ("digest.DISK_LOW=3/10m", "digest.DISK_LOW", "is not a known field"),
        ("recipient_mode=cc", "recipient_mode", "to, bcc, individual"),
        ("use_system_server=maybe", "use_system_server", ""),
    ],
)
def test_a_bad_value_is_one_line_naming_the_field(cli, db_dump, assignment, field, words) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli("settings", "set", "--tenant", "acme", assignment)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), result.err
    assert words in lines[0]
    assert db_dump() == before


def test_settings_show_says_what_the_switch_does(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    assert cli("settings", "set", "--system", *SYSTEM_SERVER).code == 0
    assert cli("settings", "set", "--tenant", "acme", *OWN_SERVER).code == 0
    result = cli("settings", "set", "--tenant", "acme", "use_system_server=true")
    assert result.code == 0, result.err
    # the system does not apply its settings to all tenants: the own server sends
    assert "note: use_system_server is on, but the system does not apply" in result.out
    assert _show(cli, "--tenant", "acme")["effective_mail_server"] == "tenant"
    shown = cli("settings", "show", "--tenant", "acme").out
    line = next(x for x in shown.splitlines() if x.startswith("effective_mail_server"))
    assert line.split()[1] == "tenant"
    assert "the tenant's own server sends its mail" in line

    assert cli("settings", "set", "--system", "apply_to_all_tenants=true").code == 0
    data = _show(cli, "--tenant", "acme")
    assert (data["effective_mail_server"], data["server"]) == ("system", "smtp.acme.org")
    shown = cli("settings", "show", "--tenant", "acme").out
    assert "system (use_system_server is on: the system's server sends" in shown

    assert cli("settings", "set", "--tenant", "acme", "use_system_server=false").code == 0
    data = _show(cli, "--tenant", "acme")
    assert (data["effective_mail_server"], data["use_system_server"]) == ("tenant", False)
    assert "use_system_server is" not in cli("settings", "show", "--tenant", "acme").out


def test_set_help_names_the_delivery_settings(cli) -> None:
    result = cli("settings", "set", "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    for words in ("recipient_mode=to|bcc|individual", "use_system_server", "digest.EVENT"):
        assert words in text, words
