"""Where the shipped data (default templates, presets, demo data) lives.

In a checkout it is `<repo>/data`; an installed wheel carries the same tree as `mailbell/_data`
(see `[tool.hatch.build.targets.wheel.force-include]` in pyproject.toml).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import core


@cache
def data_dir() -> Path:
    """The data directory: `<repo>/data` in a checkout, else the installed `mailbell/_data`."""
    checkout = Path(core.__file__).resolve().parent.parent / "data"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("mailbell") / "_data"))


def templates_dir() -> Path:
    return data_dir() / "templates"
