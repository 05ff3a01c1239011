"""The locale filters (core/locality.py): each owner's zone and locale, through Babel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import ValidationError
from core.locality import (
    Locality,
    check_locale,
    check_timezone,
    format_currency,
    format_date,
    format_datetime,
    format_duration,
    format_number,
    format_time,
    language_chain,
    rendering_in,
)

WHEN = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "locale", "expected"),
    [
        ("UTC", "en_US", "Nov 3, 2026, 2:05 PM UTC"),
        ("Europe/Paris", "fr_FR", "3 nov. 2026, 15:05 CET"),
        ("Europe/Berlin", "de_DE", "03.11.2026, 15:05 CET"),
        ("America/New_York", "en_US", "Nov 3, 2026, 9:05 AM EST"),
        ("Asia/Dubai", "fr_FR", "3 nov. 2026, 18:05 +04"),
    ],
)
def test_datetime_reads_in_the_owners_zone_and_locale(
    timezone: str, locale: str, expected: str
) -> None:
    with rendering_in(Locality(timezone, locale)):
        assert format_datetime(WHEN) == expected
        assert format_datetime(WHEN.isoformat()) == expected  # a payload's ISO text too


def test_outside_any_render_the_filters_read_utc_in_english() -> None:
    assert format_datetime(WHEN) == "Nov 3, 2026, 2:05 PM UTC"
    assert format_duration(95) == "1 min 35 sec"


def test_date_time_duration_number_and_currency_per_locale() -> None:
    with rendering_in(Locality("Europe/Paris", "fr_FR")):
        assert format_date(WHEN) == "3 nov. 2026"
        assert format_time(WHEN) == "15:05 CET"
        assert format_time(WHEN, zone=False) == "15:05"
        assert [format_duration(s) for s in (45, 185, 7620)] == ["45 s", "3 min 5 s", "2 h 7 min"]
        assert format_number(12480) == "12 480"  # plain spaces, not CLDR's narrow ones
        assert format_number("4.2", 2) == "4,20"
        assert format_currency("8.40", "EUR") == "8,40 €"
    with rendering_in(Locality("Europe/Berlin", "de_DE")):
        assert format_duration(185) == "3 Min. 5 Sek."
        assert format_number(12480) == "12.480"


def test_a_strftime_format_still_works_in_the_owners_zone() -> None:
    with rendering_in(Locality("Europe/Paris", "fr_FR")):
        assert format_datetime(WHEN, "%H:%M") == "15:05"
        # written when every date was UTC: the literal zone becomes the owner's
        assert format_datetime(WHEN, "%Y-%m-%d %H:%M UTC") == "2026-11-03 15:05 CET"


def test_what_is_not_a_date_or_a_number_is_shown_as_it_is() -> None:
    assert format_datetime("tomorrow") == "tomorrow"
    assert format_datetime(None) == ""
    assert format_number("n/a") == "n/a"
    # past what a decimal context holds: as given, not an error that would fail the message
    assert format_number("1e30", 2) == "1e30"
    assert format_currency(10**40, "EUR").endswith(" EUR")
    assert format_duration("") == ""


def test_rules_name_the_field() -> None:
    assert check_timezone("timezone", "Europe/Paris") == "Europe/Paris"
    assert check_timezone("timezone", "utc") == "UTC"
    assert check_locale("locale", "fr-FR") == "fr_FR"
    assert check_locale("locale", "de") == "de"
    for bad in ("Mars/Olympus", "", "Europe/Paris; rm"):
        with pytest.raises(ValidationError) as caught:
            check_timezone("timezone", bad)
        assert caught.value.field == "timezone"
    for bad in ("xx_YY", "en_US; DROP", "french"):
        with pytest.raises(ValidationError) as caught:
            check_locale("locale", bad)
        assert caught.value.field == "locale"


def test_templates_are_looked_up_from_the_locale_to_its_language() -> None:
    assert language_chain("fr_CA") == ("fr_CA", "fr")
    assert language_chain("de") == ("de",)
