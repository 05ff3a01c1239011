"""Retry timing (per-server rate limits: core.pipeline.shared_limit)."""

from __future__ import annotations

import random


def backoff_delay(attempts: int, base_s: float, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter around the doubling delay: base·2ⁿ⁻¹·[0.5, 1.5)."""
    factor = (rng or random).uniform(0.5, 1.5)
    return base_s * (2 ** max(attempts - 1, 0)) * factor
