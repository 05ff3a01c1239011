"""Where a message is read: its owner's time zone and locale, and the template filters that
render dates, times, durations and numbers in them (Babel).

- `Locality(timezone, locale)`: an owner's effective pair (a tenant that set neither follows
  the system's); `Locality.default()` is UTC and en_US.
- `check_timezone(field, value)` / `check_locale(field, value)`: the rules every front end
  shares (an IANA zone name; a locale Babel knows, written `fr_FR` or `fr-FR`, stored `fr_FR`).
- `rendering_in(locality)`: the locality the filters of the renders inside it use (a context
  variable, so concurrent renders on other threads or tasks keep theirs). Outside any, UTC and
  en_US.
- The filters (`FILTERS`): `datetime`, `date`, `time`, `duration`, `number`, `currency`.
  `datetime` shows the zone's abbreviation (`CET`, `CEST`) or, where the zone has none, its
  offset (`+03`). A strftime format (`|datetime("%Y-%m-%d %H:%M")`, what custom templates wrote
  before locales existed) still works, in the owner's zone.
- `language_chain(locale)`: the locales a template is looked up in, most specific first.

Babel's formatting is some 10-25 µs a call; the pieces that repeat (locales, zones, patterns,
unit phrases of small numbers, a named date format's text per day, a short or medium time's
per clock time, a number's per value) are cached so a localized render stays near a plain one
(bench/render.py measures it: 0.8 of the render before locales; uncached it was 0.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ValidationError
from core.vocabulary import (
    DEFAULT_LOCALE,
    DEFAULT_TIMEZONE,
    LOCALE_MAX_LENGTH,
    TIMEZONE_MAX_LENGTH,
)

_NAMED_FORMATS = ("short", "medium", "long", "full")
_NAMED_TIME_FORMATS = ("short", "medium")
_LOCALE_SHAPE = re.compile(r"[A-Za-z]{2,3}(_[A-Za-z][A-Za-z0-9]{1,3}){0,2}")


@dataclass(frozen=True, slots=True)
class Locality:
    """An owner's time zone (IANA name) and locale (`fr_FR`), both already valid."""

    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE

    @classmethod
    def default(cls) -> Locality:
        return _DEFAULT

    @classmethod
    def of(cls, timezone: str | None, locale: str | None, *, inherit: Locality) -> Locality:
        """A tenant's pair: each value it set, else `inherit`'s (the system's)."""
        return cls(timezone or inherit.timezone, locale or inherit.locale)

    @property
    def zone(self) -> tzinfo:
        return _zone(self.timezone)

    @property
    def language(self) -> str:
        return self.locale.partition("_")[0]


_DEFAULT = Locality()


# -- rules ------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def check_timezone(field: str, value: Any) -> str:
    """An IANA time zone name (`Europe/Paris`, `UTC`); anything else names the field."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be an IANA time zone name, e.g. Europe/Paris or UTC")
    name = value.strip()
    if len(name) > TIMEZONE_MAX_LENGTH:
        raise ValidationError(field, f"must be at most {TIMEZONE_MAX_LENGTH} characters")
    if name.upper() == "UTC":
        return "UTC"
    try:
        if name not in _zone_names():
            raise ZoneInfoNotFoundError(name)
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            field, f"{name!r} is not an IANA time zone name (e.g. Europe/Paris, America/New_York)"
        ) from None
    return name


@lru_cache(maxsize=64)
def _babel_locale(name: str) -> Any:
    from babel import Locale

    return Locale.parse(name)


def check_locale(field: str, value: Any) -> str:
    """A locale Babel knows (`fr_FR`, `de-DE`, `en`), stored as `fr_FR`."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a locale such as en_US, fr_FR or de_DE")
    text = value.strip().replace("-", "_")
    if len(text) > LOCALE_MAX_LENGTH:
        raise ValidationError(field, f"must be at most {LOCALE_MAX_LENGTH} characters")
    if not _LOCALE_SHAPE.fullmatch(text):
        raise ValidationError(
            field,
            f"{value.strip()!r} is not a locale: write it as en_US, fr_FR or de (language_REGION)",
        )
    from babel.core import UnknownLocaleError

    try:
        parsed = _babel_locale(text)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(
            field, f"{value.strip()!r} is not a known locale (e.g. en_US, fr_FR, de_DE)"
        ) from None
    return str(parsed)


def language_chain(locale: str) -> tuple[str, ...]:
    """`fr_FR` → (`fr_FR`, `fr`): the locales a template is looked up in, most specific first."""
    language = locale.partition("_")[0]
    return (locale,) if language == locale else (locale, language)


# -- the locality of the render in progress ----------------------------------------------------

_current: ContextVar[Locality] = ContextVar("mailbell_locality", default=_DEFAULT)


@lru_cache(maxsize=64)
def _loaded(locale: str) -> None:
    """Babel's modules and the locale's CLDR data, loaded once (some 100 ms, more on a busy
    machine): here, before a render's wall-time budget starts, not inside the first render of
    each locale, which the budget would fail."""
    import babel.dates
    import babel.numbers
    import babel.units  # noqa: F401

    _babel_locale(locale).datetime_formats  # noqa: B018 (the access loads the data)


def preload(locale: str = DEFAULT_LOCALE) -> None:
    """Load Babel and `locale`'s data now (a blocking 100-300 ms the first time in a process):
    a service calls it on a thread at start, so its first request does not pay it."""
    _loaded(locale)


@contextmanager
def rendering_in(locality: Locality | None) -> Iterator[None]:
    """Filters called inside render in `locality` (None: the default)."""
    _loaded((locality or _DEFAULT).locale)
    token = _current.set(locality or _DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def current_locality() -> Locality:
    return _current.get()


# -- filters ----------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


@lru_cache(maxsize=256)
def _pattern(locale: str, kind: str, fmt: str) -> Any:
    """Babel's compiled pattern for a named format (`medium`) or a CLDR pattern (`d MMM`)."""
    from babel.dates import get_date_format, get_time_format, parse_pattern

    named: Any = fmt
    if fmt in _NAMED_FORMATS:
        get = get_date_format if kind == "date" else get_time_format
        return get(named, _babel_locale(locale))
    return parse_pattern(fmt)


@lru_cache(maxsize=64)
def _joiner(locale: str, fmt: str) -> str:
    from babel.dates import get_datetime_format

    named: Any = fmt if fmt in _NAMED_FORMATS else "medium"
    return str(get_datetime_format(named, _babel_locale(locale)))


def _zone_label(moment: datetime) -> str:
    """`CET`, `EDT`, `UTC`, or the offset (`+03`, `+0530`) where the zone has no letters."""
    name = moment.tzname() or ""
    return name if name else moment.strftime("%z")


def _local(value: datetime, locality: Locality) -> datetime:
    return value.astimezone(locality.zone)


def _plain(text: object) -> str:
    """CLDR's narrow and non-breaking spaces (`2:15\u202fPM`, `12\u202f480`, `8,40\xa0€`) as
    plain spaces: the text part derived from a template and the one converted from its HTML
    must read the same, and old mail clients show those characters as boxes."""
    return str(text).replace("\u202f", " ").replace("\xa0", " ")


def _format_date_part(moment: datetime | date, locality: Locality, fmt: str) -> str:
    if fmt in _NAMED_FORMATS:
        # A named date format reads nothing but the day: one Babel call per day and locale.
        day = moment.date() if isinstance(moment, datetime) else moment
        return _named_date(locality.locale, fmt, day)
    pattern = _pattern(locality.locale, "date", fmt)
    return _plain(pattern.apply(moment, _babel_locale(locality.locale)))


@lru_cache(maxsize=4096)
def _named_date(locale: str, fmt: str, day: date) -> str:
    return _plain(_pattern(locale, "date", fmt).apply(day, _babel_locale(locale)))


def _format_time_part(moment: datetime, locality: Locality, fmt: str) -> str:
    if fmt in _NAMED_TIME_FORMATS:
        # short and medium read only the clock (long and full name the zone: never cached).
        second = moment.second if fmt == "medium" else 0
        return _named_time(locality.locale, fmt, moment.hour, moment.minute, second)
    pattern = _pattern(locality.locale, "time", fmt)
    return _plain(pattern.apply(moment, _babel_locale(locality.locale)))


@lru_cache(maxsize=4096)
def _named_time(locale: str, fmt: str, hour: int, minute: int, second: int) -> str:
    clock = time(hour, minute, second)
    return _plain(_pattern(locale, "time", fmt).apply(clock, _babel_locale(locale)))


def format_datetime(value: Any, fmt: str = "medium", zone: bool = True) -> str:
    """Filter `datetime`: the date and time in the owner's zone and locale, with the zone
    (`Nov 3, 2026, 3:05 PM CET`; `3 nov. 2026, 15:05 CET`). `fmt`: short, medium (date
    medium, time short), long, full, or a strftime format (`%d/%m %H:%M`). Not a datetime:
    the value as text."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    locality = current_locality()
    local = _local(moment, locality)
    if "%" in fmt:
        # A format written when every date was UTC may name the zone as the literal "UTC".
        label = _zone_label(local)
        return local.strftime(fmt.replace("%Z", label).replace("UTC", label))
    # The zone is appended once, as a label: the time part never shows it (long, full would).
    time_fmt = "medium" if fmt in ("long", "full") else "short"
    text = _joiner(locality.locale, fmt).format(
        _format_time_part(local, locality, time_fmt), _format_date_part(local, locality, fmt)
    )
    return f"{text} {_zone_label(local)}" if zone else text


def format_date(value: Any, fmt: str = "medium") -> str:
    """Filter `date`: the date in the owner's zone and locale (`Nov 3, 2026`, `3 nov. 2026`)."""
    moment = _as_datetime(value)
    if moment is None:
        if isinstance(value, date):
            return _format_date_part(value, current_locality(), fmt)
        return "" if value is None else str(value)
    locality = current_locality()
    local = _local(moment, locality)
    if "%" in fmt:
        return local.strftime(fmt)
    return _format_date_part(local, locality, fmt)


def format_time(value: Any, fmt: str = "short", zone: bool = True) -> str:
    """Filter `time`: the time of day in the owner's zone and locale, with the zone
    (`3:05 PM CET`, `15:05 CET`)."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    locality = current_locality()
    local = _local(moment, locality)
    if "%" in fmt:
        return local.strftime(fmt)
    text = _format_time_part(local, locality, fmt)
    return f"{text} {_zone_label(local)}" if zone else text


@lru_cache(maxsize=4096)
def _unit(amount: int, unit: str, locale: str) -> str:
    from babel.units import format_unit

    return _plain(format_unit(amount, unit, length="short", locale=_babel_locale(locale)))


def format_duration(value: Any) -> str:
    """Filter `duration`: seconds in the locale's units (`45 sec`, `3 min 5 sec`, `2 hr 7 min`;
    `3 min 5 s` in French, `3 Min. 5 Sek.` in German)."""
    if value is None or value == "":
        return ""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return str(value)
    locale = current_locality().locale
    if seconds < 60:
        return _unit(seconds, "duration-second", locale)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        parts = [_unit(minutes, "duration-minute", locale)]
        if seconds:
            parts.append(_unit(seconds, "duration-second", locale))
        return " ".join(parts)
    hours, minutes = divmod(minutes, 60)
    parts = [_unit(hours, "duration-hour", locale)]
    if minutes:
        parts.append(_unit(minutes, "duration-minute", locale))
    return " ".join(parts)


def _decimal(value: Any) -> Decimal | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_number(value: Any, digits: int | None = None) -> str:
    """Filter `number`: grouping and decimal mark of the locale (`12,480`, `12 480`, `12.480`);
    `digits`: exactly that many decimals."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if digits is not None:
        digits = max(0, min(int(digits), 10))
    try:
        # Keyed by the value's text: equal values may still read differently (-0 and 0).
        return _decimal_text(str(number), digits, current_locality().locale)
    except ArithmeticError:  # beyond what a decimal context holds (1e27 with digits): as given
        return str(value)


@lru_cache(maxsize=4096)
def _decimal_text(text: str, digits: int | None, locale: str) -> str:
    """Babel's text of the decimal `text`, once per value (counts and amounts repeat from
    message to message)."""
    from babel.numbers import format_decimal

    number = Decimal(text)
    if digits is None:
        return _plain(format_decimal(number, locale=_babel_locale(locale)))
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return _plain(
        format_decimal(
            number, format=pattern, locale=_babel_locale(locale), decimal_quantization=True
        )
    )


def format_currency(value: Any, currency: str = "EUR") -> str:
    """Filter `currency`: an amount in `currency` (ISO 4217) as the locale writes it
    (`€8.40`, `8,40 €`)."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    from babel.numbers import UnknownCurrencyError
    from babel.numbers import format_currency as babel_currency

    try:
        return _plain(
            babel_currency(
                number, str(currency).upper(), locale=_babel_locale(current_locality().locale)
            )
        )
    except (UnknownCurrencyError, ValueError):
        return f"{format_number(number, 2)} {currency}"
    except ArithmeticError:
        return f"{value} {currency}"


FILTERS = {
    "datetime": format_datetime,
    "date": format_date,
    "time": format_time,
    "duration": format_duration,
    "number": format_number,
    "currency": format_currency,
}

__all__ = [
    "FILTERS",
    "Locality",
    "check_locale",
    "check_timezone",
    "current_locality",
    "language_chain",
    "preload",
    "rendering_in",
]
