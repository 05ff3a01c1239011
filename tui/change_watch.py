"""The app's side of "every page shows the data as it is now".

A change saved in this session (any page, any dialog) is seen the moment its commit records an
audit entry; a change made elsewhere (another `mailbell tui`, the CLI, the API, Slack) by a probe
on a thread every CHANGES_REFRESH_S: the newest audit entry's id, one primary-key lookup. Either
way `DataChanged` bumps `data_version`, which makes every page stale (base.MainScreen reloads a
page when it is shown and the version moved) and reloads the page on screen, keeping its place.

`MailbellApp` derives from `ChangeWatch`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.message import Message

if TYPE_CHECKING:
    from core.context import Context

# Changes made by other sessions show within this; one indexed query per tick.
CHANGES_REFRESH_S = 1.5


class DataChanged(Message, bubble=False):
    """Something a page shows may have changed: `own` when this session saved it."""

    def __init__(self, *, own: bool) -> None:
        super().__init__()
        self.own = own


class ChangeWatch(App[None]):
    ctx: Context | None
    data_version: int = 0
    _last_change: int | None = None
    _stop_own_changes: Callable[[], None] | None = None

    def watch_changes(self) -> None:
        """Start both watches (once the context is ready)."""
        from tui.data.changes import on_own_changes

        assert self.ctx is not None
        # Commits run on worker threads: hand the news to the UI thread as a message.
        self._stop_own_changes = on_own_changes(
            self.ctx, lambda: self.post_message(DataChanged(own=True))
        )
        self.probe_changes()
        self.set_interval(CHANGES_REFRESH_S, self.probe_changes)

    def on_unmount(self) -> None:
        if self._stop_own_changes is not None:
            self._stop_own_changes()
            self._stop_own_changes = None

    def probe_changes(self) -> None:
        """One tick: skipped while the previous read still runs, so a slow database never
        piles reads up and the UI never waits."""
        if self.ctx is None or any(w.group == "changes" for w in self.workers if w.is_running):
            return
        self._probe(self.ctx)

    @work(thread=True, group="changes", exit_on_error=False)
    def _probe(self, ctx: Context) -> None:
        from tui.data.changes import latest_change
        from tui.runtime import log

        try:
            latest = latest_change(ctx)
        except Exception as exc:  # the pages stay as they are; the next tick tries again
            log.warning("cannot read the newest change: %s", exc)
            return
        self.call_from_thread(self._probed, latest)

    def _probed(self, latest: int) -> None:
        first = self._last_change is None
        moved = latest != self._last_change
        self._last_change = latest
        if moved and not first:
            self.post_message(DataChanged(own=False))

    @on(DataChanged)
    def data_changed(self, message: DataChanged) -> None:
        self.data_version += 1
        if message.own:
            # Our own change moved the newest id: read it now so the probe does not reload
            # every page a second time for it.
            self.probe_changes_quietly()
        screen = self.screen
        if hasattr(screen, "sync_scope"):  # a dialog on top: its page reloads when shown
            screen.sync_scope(keep_place=True)

    def probe_changes_quietly(self) -> None:
        if self.ctx is not None:
            self._baseline(self.ctx)

    @work(thread=True, group="changes-baseline", exit_on_error=False)
    def _baseline(self, ctx: Context) -> None:
        from tui.data.changes import latest_change

        try:
            latest = latest_change(ctx)
        except Exception:  # the next probe reads it, at worst reloading once more
            return
        self.call_from_thread(self._set_baseline, latest)

    def _set_baseline(self, latest: int) -> None:
        self._last_change = latest
