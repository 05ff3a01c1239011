"""Bursts into threads: alerts of one event in one channel within a window of the first one
are posted as replies under it (Slack threads), so a storm reads as one conversation.

The first alert of a burst is its root. While the root is being sent, the alerts behind it
wait for its message reference (Slack's `ts`) instead of becoming roots themselves; when the
root's send fails, the next alert becomes the root. Roots are kept in memory, per worker
process: after a restart, or on another process, a burst starts a new thread — at worst an
extra thread, never a lost alert.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.channels.base import ClaimedDelivery

BurstKey = tuple[str, str, int | None, str]  # channel, target, tenant, event
FORGET_AFTER = 10_000  # roots kept before the expired ones are dropped


@dataclass(frozen=True, slots=True)
class _Root:
    ref: str
    sent_at: float


def burst_key(delivery: ClaimedDelivery) -> BurstKey:
    return (delivery.channel, delivery.target, delivery.tenant_id, delivery.event)


class BurstThreads:
    """`thread_for` before a send, `done` after it (whatever happened)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._roots: dict[BurstKey, _Root | asyncio.Future[str | None]] = {}

    async def thread_for(self, delivery: ClaimedDelivery) -> str | None:
        """The message to reply under, or None: then this delivery is the burst's root.

        A digest (`is_digest`, core/pipeline/digest_close.py) closes a burst whose window may
        have outlasted the thread window: it goes under the burst's root whatever the root's
        age, when this process knows the root."""
        if self.window_s <= 0:
            return None
        key = burst_key(delivery)
        while True:
            entry = self._roots.get(key)
            if isinstance(entry, asyncio.Future):
                await asyncio.shield(entry)  # the root's send; a failed one hands the role on
                continue
            if entry is not None and (
                delivery.is_digest or self.clock() - entry.sent_at < self.window_s
            ):
                return entry.ref
            self._roots[key] = asyncio.get_running_loop().create_future()
            return None

    def done(self, delivery: ClaimedDelivery, thread_under: str | None, ref: str | None) -> None:
        """After a send: a root that was posted (`ref`) starts the window; one that failed
        lets the next alert of the burst be the root."""
        if self.window_s <= 0 or thread_under is not None:
            return
        key = burst_key(delivery)
        pending = self._roots.get(key)
        if ref is not None:
            self._roots[key] = _Root(ref, self.clock())
        else:
            self._roots.pop(key, None)
        if isinstance(pending, asyncio.Future) and not pending.done():
            pending.set_result(ref)
        if len(self._roots) > FORGET_AFTER:
            now = self.clock()
            self._roots = {
                k: v
                for k, v in self._roots.items()
                if not isinstance(v, _Root) or now - v.sent_at < self.window_s
            }
