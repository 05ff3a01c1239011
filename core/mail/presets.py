"""Provider presets (data/providers.json): what Gmail, Microsoft 365 or SendGrid fill in."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


@cache
def provider_presets() -> dict[str, dict[str, Any]]:
    from core.paths import data_dir

    presets: dict[str, dict[str, Any]] = json.loads(
        (data_dir() / "providers.json").read_text(encoding="utf-8")
    )
    return presets


def preset_for(provider: str) -> dict[str, Any]:
    return dict(provider_presets().get(provider, {}))
