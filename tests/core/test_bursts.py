"""Burst threading: the first alert of a burst is the root, the rest of the window replies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from core.channels.base import ClaimedDelivery
from core.pipeline.bursts import BurstThreads


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def alert(
    event: str = "QUEUE_CALL_LOST", target: str = "C1", tenant: int | None = 1, digest: bool = False
):
    return ClaimedDelivery(
        id=1,
        tenant_id=tenant,
        event=event,
        channel="slack",
        target=target,
        mail_server_id=None,
        attempts=1,
        sender="",
        pending=[target],
        results={},
        content=b"",
        created_at=datetime.now(UTC),
        is_digest=digest,
    )


async def settle() -> None:
    """Let every task that can run, run (a wake-up passes through a shield: a few turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_alerts_within_the_window_reply_under_the_first() -> None:
    clock = Clock()
    threads = BurstThreads(60, clock)
    assert await threads.thread_for(alert()) is None  # the root
    threads.done(alert(), None, "111.1")
    clock.now += 59
    assert await threads.thread_for(alert()) == "111.1"
    threads.done(alert(), "111.1", "222.2")  # a reply does not move the root
    assert await threads.thread_for(alert()) == "111.1"
    clock.now += 2  # 61 s after the root: a new burst
    assert await threads.thread_for(alert()) is None
    threads.done(alert(), None, "333.3")
    assert await threads.thread_for(alert()) == "333.3"


async def test_other_events_channels_and_tenants_are_bursts_of_their_own() -> None:
    threads = BurstThreads(60, Clock())
    assert await threads.thread_for(alert()) is None
    threads.done(alert(), None, "111.1")
    for other in (alert(event="DISK_LOW"), alert(target="C2"), alert(tenant=2)):
        assert await threads.thread_for(other) is None
        threads.done(other, None, "999.9")
    assert await threads.thread_for(alert()) == "111.1"


async def test_alerts_sent_while_the_root_is_in_flight_wait_for_its_reference() -> None:
    threads = BurstThreads(60, Clock())
    assert await threads.thread_for(alert()) is None
    waiting = [asyncio.ensure_future(threads.thread_for(alert())) for _ in range(3)]
    await settle()
    assert not any(task.done() for task in waiting)  # not roots of their own
    threads.done(alert(), None, "111.1")
    assert await asyncio.gather(*waiting) == ["111.1"] * 3


async def test_a_failed_root_hands_the_role_to_the_next_alert() -> None:
    threads = BurstThreads(60, Clock())
    assert await threads.thread_for(alert()) is None
    waiting = [asyncio.ensure_future(threads.thread_for(alert())) for _ in range(2)]
    await settle()
    threads.done(alert(), None, None)  # the root's send failed (it will be retried)
    await settle()
    first, second = waiting
    assert first.done() and first.result() is None  # the new root
    assert not second.done()  # waits for the new root
    threads.done(alert(), None, "444.4")
    assert await second == "444.4"


async def test_a_window_of_zero_never_threads() -> None:
    threads = BurstThreads(0, Clock())
    for _ in range(3):
        assert await threads.thread_for(alert()) is None
        threads.done(alert(), None, "111.1")


def test_a_digest_goes_under_its_burst_root_whatever_the_root_age() -> None:
    """A digest closes a window longer than the thread window: it still replies to the root."""

    async def scenario() -> tuple[str | None, str | None]:
        clock = Clock()
        threads = BurstThreads(60, clock=clock)
        root = alert()
        assert await threads.thread_for(root) is None
        threads.done(root, None, "111.1")
        clock.now += 600  # a ten-minute digest window
        late = await threads.thread_for(alert(digest=True))
        return late, await threads.thread_for(alert())

    digest_under, alert_under = asyncio.run(scenario())
    assert digest_under == "111.1"
    assert alert_under is None  # a plain alert that late starts a new thread
