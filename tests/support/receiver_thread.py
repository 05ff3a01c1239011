"""`tests.support.webhook_receiver.WebhookReceiver` on an event loop of its own, in a thread.

Synchronous callers — the CLI (its `asyncio.run`), a worker run from a sync test — and async
tests alike reach it without sharing the test's loop:

    with webhook_receiver(secret="s3cret", answers=[410, 200]) as receiver:
        ... receiver.url ...                      # http://127.0.0.1:PORT/hook
        [first, second] = receiver.wait_for(2)    # the first POSTs, once they have arrived
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.webhook_receiver import Received, WebhookReceiver

PATH = "/hook"


class ThreadedReceiver:
    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        self.url = receiver.url(PATH)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` POSTs; the timeout only ends a hung test (then fewer come back)."""
        deadline = time.monotonic() + timeout
        while len(self.receiver.received(PATH)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.receiver.received(PATH)


@contextmanager
def webhook_receiver(
    secret: str | None = None, answers: list[int] | None = None
) -> Iterator[ThreadedReceiver]:
    receiver = WebhookReceiver(secret=secret)
    receiver.script(PATH, *(answers or []))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(receiver.__aenter__(), loop).result(10)
        try:
            yield ThreadedReceiver(receiver)
        finally:
            asyncio.run_coroutine_threadsafe(receiver.__aexit__(None, None, None), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
