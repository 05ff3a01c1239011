"""`mailbell settings set|show` with the owner's `timezone` and `locale`: set, shown (a tenant's
unset value as the system's it follows), reset with an empty value, refused naming the field."""

from __future__ import annotations

import json

import pytest


def _show(cli, *owner: str) -> dict:
    result = cli("settings", "show", *owner, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _lines(cli, *owner: str) -> dict[str, str]:
    result = cli("settings", "show", *owner)
    assert result.code == 0, result.err
    pairs = (line.split(None, 1) for line in result.out.splitlines() if line.strip())
    return {pair[0]: (pair[1] if len(pair) > 1 else "") for pair in pairs}


def test_a_tenant_sets_shows_and_resets_its_time_zone_and_locale(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    shown = _lines(cli, "--tenant", "acme")
    assert (shown["timezone"], shown["locale"]) == ("(system's: UTC)", "(system's: en_US)")
    data = _show(cli, "--tenant", "acme")
    assert (data["timezone"], data["locale"]) == (None, None)

    result = cli("settings", "set", "--tenant", "acme", "timezone=Europe/Paris", "locale=fr-FR")
    assert result.code == 0, result.err
    data = _show(cli, "--tenant", "acme")
    assert (data["timezone"], data["locale"]) == ("Europe/Paris", "fr_FR")
    shown = _lines(cli, "--tenant", "acme")
    assert (shown["timezone"], shown["locale"]) == ("Europe/Paris", "fr_FR")
    # the PortSIP fields come first, the extensions after them
    keys = list(data)
    assert keys.index("notify_queue_call_lost") < keys.index("timezone") < keys.index("locale")

    # an empty value: the tenant follows the system's again
    assert cli("settings", "set", "--tenant", "acme", "timezone=").code == 0
    data = _show(cli, "--tenant", "acme")
    assert (data["timezone"], data["locale"]) == (None, "fr_FR")
    assert _lines(cli, "--tenant", "acme")["timezone"] == "(system's: UTC)"


def test_a_tenant_without_a_zone_follows_the_systems_when_it_changes(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    assert cli("tenant", "add", "globex").code == 0
    assert cli("settings", "set", "--tenant", "globex", "timezone=Asia/Tokyo").code == 0
    result = cli("settings", "set", "--system", "timezone=America/New_York", "locale=de_DE")
    assert result.code == 0, result.err
    system = _show(cli, "--system")
    assert (system["timezone"], system["locale"]) == ("America/New_York", "de_DE")
    shown = _lines(cli, "--tenant", "acme")
    assert shown["timezone"] == "(system's: America/New_York)"
    assert shown["locale"] == "(system's: de_DE)"
    assert _lines(cli, "--tenant", "globex")["timezone"] == "Asia/Tokyo"
    # the system's empty value is the default again, never "unset"
    assert cli("settings", "set", "--system", "timezone=", "locale=").code == 0
    system = _show(cli, "--system")
    assert (system["timezone"], system["locale"]) == ("UTC", "en_US")
    assert _lines(cli, "--system")["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("assignment", "field", "words"),
    [
        ("timezone=Mars/Olympus", "timezone", "'Mars/Olympus' is not an IANA time zone name"),
        ("timezone=" + "A" * 65, "timezone", "at most 64 characters"),
        ("locale=xx_YY", "locale", "'xx_YY' is not a known locale"),
        ("locale=french", "locale", "is not a locale"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_field(cli, db_dump, assignment, field, words) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli("settings", "set", "--tenant", "acme", "locale=fr_FR", assignment)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), result.err
    assert words in lines[0]
    assert "Traceback" not in result.err
    assert db_dump() == before


def test_set_help_names_the_keys(cli) -> None:
    result = cli("settings", "set", "--help")
    assert result.code == 0
    text = " ".join(result.out.replace("│", " ").split())
    assert "timezone=ZONE (IANA, e.g. Europe/Paris)" in text
    assert "locale=LOCALE (e.g. fr_FR, de_DE, en_US;" in text
