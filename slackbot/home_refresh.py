"""Keeps open App Home tabs current: "the tab refreshes when something the user sees changes
(debounced, at most once every 10 s per user) and on open".

Slack does not say when a user looks at the Home tab again, only when they open it
(`app_home_opened`). So the refresher remembers who opened it in the last hour (at most
`max_users`, the least recent forgotten first), and every `period` seconds rebuilds their
views off the event loop and publishes only those that differ from what that user was last
sent (a digest of the view's JSON), and only to users not published to in the last `period`.
An open, or the answer to the user's own button press, is published at once (it is what they
asked for) and counts for the debounce.

One per bolt app; its loop starts with the first open, inside the running event loop, and
`close` (on the follow-up runner's drain) stops it and waits for publishes under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("slackbot")

PERIOD_S = 10.0
REMEMBER_S = 3600.0
MAX_USERS = 1000
BATCH = 50  # viewers built per call off the loop (each call stays well inside its deadline)


@dataclass(frozen=True)
class HomeRequest:
    user_id: str
    team_id: str
    notice: str | None  # the answer to the user's last button press, shown at the top


@dataclass(frozen=True)
class BuiltView:
    view: dict[str, Any]
    digest: str


def view_digest(view: dict[str, Any]) -> str:
    encoded = json.dumps(view, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


# Builds the views of a batch of users (off the loop); raises to skip the batch this time.
Build = Callable[[list[HomeRequest]], Awaitable[list[BuiltView]]]
# Publishes one user's view: (client, user_id, view).
Publish = Callable[[Any, str, dict[str, Any]], Awaitable[Any]]


@dataclass
class _Viewer:
    user_id: str
    team_id: str
    seen_at: float
    notice: str | None = None
    digest: str | None = None  # of the view last published to them
    published_at: float = -math.inf
    busy: bool = False  # a publish is under way: the periodic pass leaves them alone

    def request(self) -> HomeRequest:
        return HomeRequest(self.user_id, self.team_id, self.notice)


@dataclass
class HomeRefresher:
    build: Build
    publish: Publish
    period: float = PERIOD_S
    remember_s: float = REMEMBER_S
    max_users: int = MAX_USERS
    clock: Callable[[], float] = time.monotonic
    _viewers: OrderedDict[str, _Viewer] = field(default_factory=OrderedDict)
    _client: Any = None
    _loop_task: asyncio.Task[None] | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _closed: bool = False
    passes: int = 0  # periodic passes done (tests wait for them instead of sleeping)

    # -- what listeners call ----------------------------------------------------------------

    def opened(self, user_id: str, team_id: str, client: Any) -> None:
        """The user opened the Home tab: publish it now (an earlier notice is dropped)."""
        viewer = self._remember(user_id, team_id, client)
        viewer.notice = None
        self._now(viewer)

    def answered(self, user_id: str, team_id: str, client: Any, notice: str | None) -> None:
        """The user pressed a Home button: publish the result now, `notice` at the top."""
        viewer = self._remember(user_id, team_id, client)
        viewer.notice = notice
        self._now(viewer)

    @property
    def watched(self) -> list[str]:
        return list(self._viewers)

    async def close(self) -> None:
        """Stop refreshing; wait for publishes under way (a few seconds at most)."""
        self._closed = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- the periodic pass ------------------------------------------------------------------

    async def refresh(self) -> int:
        """One pass: forget users not seen for `remember_s`, rebuild the others' views and
        publish those that changed to users not published to in the last `period`. Returns
        how many were published."""
        now = self.clock()
        for user_id in [u for u, v in self._viewers.items() if now - v.seen_at > self.remember_s]:
            del self._viewers[user_id]
        due = [
            v for v in self._viewers.values() if not v.busy and now - v.published_at >= self.period
        ]
        published = 0
        for start in range(0, len(due), BATCH):
            if self._closed:
                break
            batch = due[start : start + BATCH]
            try:
                built = await self.build([v.request() for v in batch])
            except Exception as error:  # a busy database: the next pass tries again
                log.warning("slack home: refresh skipped (%s)", type(error).__name__)
                continue
            for viewer, view in zip(batch, built, strict=True):
                # an open or a click may have published a newer view meanwhile
                recent = self.clock() - viewer.published_at < self.period
                if view.digest != viewer.digest and not viewer.busy and not recent:
                    published += await self._publish(viewer, view)
        self.passes += 1
        return published

    # -- inside -----------------------------------------------------------------------------

    def _remember(self, user_id: str, team_id: str, client: Any) -> _Viewer:
        self._client = client
        viewer = self._viewers.get(user_id)
        if viewer is None:
            viewer = _Viewer(user_id, team_id, self.clock())
            self._viewers[user_id] = viewer
            while len(self._viewers) > self.max_users:
                self._viewers.popitem(last=False)
        viewer.team_id, viewer.seen_at = team_id, self.clock()
        self._viewers.move_to_end(user_id)
        if self._loop_task is None and not self._closed:
            self._loop_task = asyncio.get_running_loop().create_task(self._run())
        return viewer

    def _now(self, viewer: _Viewer) -> None:
        if self._closed:
            return
        viewer.busy = True
        task = asyncio.get_running_loop().create_task(self._build_and_publish(viewer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _build_and_publish(self, viewer: _Viewer) -> None:
        try:
            [built] = await self.build([viewer.request()])
            await self._publish(viewer, built)
        except Exception as error:
            log.warning("slack home: not published (%s)", type(error).__name__)
        finally:
            viewer.busy = False

    async def _publish(self, viewer: _Viewer, built: BuiltView) -> int:
        try:
            await self.publish(self._client, viewer.user_id, built.view)
        except Exception as error:  # Slack refused or was unreachable: tried again next pass
            log.warning("slack home: views.publish failed (%s)", type(error).__name__)
            return 0
        viewer.digest, viewer.published_at = built.digest, self.clock()
        return 1

    async def _run(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.period)
            try:
                await self.refresh()
            except Exception:  # never let one bad pass end the refreshing
                log.exception("slack home: refresh pass failed")
