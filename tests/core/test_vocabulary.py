"""core/vocabulary.py agrees with the catalogue and the tables, and costs nothing to import."""

from __future__ import annotations

import subprocess
import sys

from core.catalog import EVENTS, NAMES
from core.models.tenancy import NotificationSettings, SystemSettings
from core.vocabulary import (
    EVENT_DESCRIPTIONS,
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    EventName,
    EventScope,
)


def test_event_names_scopes_and_descriptions_are_the_catalogue_s() -> None:
    assert tuple(EventName) == NAMES
    for name, event in EVENTS.items():
        assert event.scope in set(EventScope)
        assert event.description == EVENT_DESCRIPTIONS[EventName(name)]


def test_toggles_are_the_catalogue_s_and_the_tables_columns() -> None:
    for scope, toggles, table in (
        ("tenant", TENANT_TOGGLES, NotificationSettings),
        ("system", SYSTEM_TOGGLES, SystemSettings),
    ):
        from_catalogue = [e.toggle for e in EVENTS.values() if e.scope == scope and e.toggle]
        assert list(toggles) == from_catalogue
        columns = {name for name in table.model_fields if name.startswith("notify_")}
        assert columns == set(toggles)


def test_importing_the_vocabulary_loads_no_third_party_module() -> None:
    code = (
        "import sys; import core.vocabulary; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'sqlmodel', 'pydantic', 'textual', 'slack_bolt', 'aiohttp'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
