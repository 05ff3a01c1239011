"""Retry timing and per-server rate limits."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


def backoff_delay(attempts: int, base_s: float, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter around the doubling delay: base·2ⁿ⁻¹·[0.5, 1.5)."""
    factor = (rng or random).uniform(0.5, 1.5)
    return base_s * (2 ** max(attempts - 1, 0)) * factor


class SlidingWindowLimiter:
    """At most `limit` sends in any `window` seconds (a log of send times, exact, not a bucket)."""

    def __init__(
        self, limit: int, window: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._sent: deque[float] = deque()

    def reserve(self) -> float:
        """Take a slot now and return 0, or return how long to wait for one (taking nothing)."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            self._sent.append(now)
            return 0.0
        return self._sent[0] + self.window - now
