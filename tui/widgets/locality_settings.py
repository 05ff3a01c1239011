"""The "Language and time" part of the notification settings: the owner's time zone and
locale, with a line showing how a date reads in them.

The zone is typed (suggestions from the zone database) and checked by the core on save, its
refusal shown under the input; the locale is picked from the labelled ones (plus the stored
value when it is another one). A tenant's empty zone and its first locale option ("System's
(…)") leave the value unset: its mail follows the system's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Select, Static

from core.vocabulary import DEFAULT_LOCALE, DEFAULT_TIMEZONE, LOCALE_LABELS
from tui.data.settings import date_example as example
from tui.data.settings import zone_names

if TYPE_CHECKING:
    from core.models.tenancy import NotificationSettingsRead

# What the example line formats: a fixed afternoon, in November (standard time in the north).
# The tenant's "not set" option of the locale select.
UNSET = ""
FIELDS = ("timezone", "locale")


def locale_options(current: str | None, *, inherited: str | None) -> list[tuple[str, str]]:
    """The select's options: for a tenant (`inherited` = the system's locale) "System's (…)"
    first, then the labelled locales, then `current` when it is none of them."""
    options = [(f"{label} — {code}", code) for code, label in LOCALE_LABELS.items()]
    if current and current not in LOCALE_LABELS:
        options.append((current, current))
    if inherited is not None:
        label = LOCALE_LABELS.get(inherited, inherited)
        options.insert(0, (f"System's ({label})", UNSET))
    return options


class LocalitySettings(Vertical):
    """Time zone and locale of the scope, and the example line that follows them."""

    DEFAULT_CSS = """
    LocalitySettings {
        height: auto;
    }
    LocalitySettings Horizontal {
        height: auto;
    }
    LocalitySettings > .section-title {
        margin: 1 0 0 0;
    }
    LocalitySettings .locality-label {
        width: 24;
        color: $text-muted;
    }
    LocalitySettings #timezone {
        width: 1fr;
        max-width: 40;
    }
    LocalitySettings #timezone.-invalid {
        background: $error 15%;
    }
    LocalitySettings #locale {
        width: 1fr;
        max-width: 40;
    }
    LocalitySettings .locality-error {
        color: $error;
        height: auto;
        padding: 0 0 0 24;
    }
    LocalitySettings #locality-example {
        height: auto;
        padding: 0 0 0 24;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The system's pair (a tenant's unset values follow it); None on the system's page.
        self.inherited: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield Label("Language and time", classes="section-title")
        with Horizontal(classes="locality-row"):
            yield Label("Time zone", classes="locality-label")
            yield Input(
                id="timezone",
                placeholder="Europe/Paris",
                compact=True,
            )
        yield Static("", id="timezone-error", classes="locality-error")
        with Horizontal(classes="locality-row"):
            yield Label("Locale", classes="locality-label")
            yield Select(
                locale_options(None, inherited=None),
                value=DEFAULT_LOCALE,
                allow_blank=False,
                id="locale",
                compact=True,
            )
        yield Static("", id="locale-error", classes="locality-error")
        yield Static("", id="locality-example", classes="muted")

    def show(self, values: NotificationSettingsRead, inherited: tuple[str, str] | None) -> None:
        """Fill the fields from `values`; `inherited`: the system's (timezone, locale) for a
        tenant's page, None for the system's."""
        self.inherited = inherited
        zone = self.query_one("#timezone", Input)
        # The zone names were read by the page's load, on its worker thread (a directory walk).
        zone.suggester = SuggestFromList(zone_names(), case_sensitive=False)
        zone.value = values.timezone or ""
        zone.placeholder = f"System's ({inherited[0]})" if inherited else DEFAULT_TIMEZONE
        select: Select[str] = self.query_one("#locale", Select)
        select.set_options(
            locale_options(values.locale, inherited=inherited[1] if inherited else None)
        )
        select.value = values.locale or (UNSET if inherited else DEFAULT_LOCALE)
        self.show_error(None, None)
        self.refresh_example()

    def changes(self) -> dict[str, Any]:
        """`timezone` as typed ("" unsets a tenant's) and the chosen `locale`."""
        locale = self.query_one("#locale", Select).value
        return {
            "timezone": self.query_one("#timezone", Input).value.strip(),
            "locale": locale if isinstance(locale, str) else UNSET,
        }

    def effective(self) -> tuple[str, str]:
        """The pair mail would read in with the fields as they are now."""
        typed = self.changes()
        fallback = self.inherited or (DEFAULT_TIMEZONE, DEFAULT_LOCALE)
        return typed["timezone"] or fallback[0], typed["locale"] or fallback[1]

    def refresh_example(self) -> None:
        self.query_one("#locality-example", Static).update(example(*self.effective()))

    @on(Input.Changed, "#timezone")
    @on(Select.Changed, "#locale")
    def _field_changed(self) -> None:
        # Not stopped: the page marks itself dirty on the same messages.
        self.refresh_example()

    def show_error(self, field: str | None, message: str | None) -> bool:
        """Show a refusal of the zone or the locale under it; False for another field's."""
        zone = self.query_one("#timezone", Input)
        zone.remove_class("-invalid")
        for name in FIELDS:
            self.query_one(f"#{name}-error", Static).display = False
        if field not in FIELDS:
            return field is None
        error = self.query_one(f"#{field}-error", Static)
        error.update(f"✗ {field}: {message}")
        error.display = True
        widget = self.query_one(f"#{field}")
        if field == "timezone":
            widget.add_class("-invalid")
        widget.focus()
        return True
