"""At most one log line a second about running out of file descriptors or memory.

When the process has no descriptor left, asyncio's accept loop logs "socket.accept() out of
system resource" (with a traceback) for every connection waiting in the listen backlog, up to
a hundred a tick, and everything else that opens a file fails and logs too. One line a second
says as much; the rest are counted into the next line that is let through.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable

EXHAUSTION_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ASYNCIO_ACCEPT_MESSAGE = "out of system resource"


def _exhaustion(record: logging.LogRecord) -> OSError | None:
    error = record.exc_info[1] if record.exc_info else None
    seen: set[int] = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in EXHAUSTION_ERRNOS:
            return error
        error = error.__cause__ or error.__context__
    return None


class ResourceExhaustionFilter(logging.Filter):
    """A handler filter: a record about resource exhaustion passes at most once per
    `interval_s`, as one warning line without a traceback, saying how many were dropped."""

    def __init__(
        self, interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = _exhaustion(record)
        if error is None and ASYNCIO_ACCEPT_MESSAGE not in str(record.msg):
            return True
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            self._dropped += 1
            return False
        self._last = now
        reason = error.strerror if error is not None and error.strerror else "resources"
        first_line = record.getMessage().splitlines()[0] if record.getMessage() else ""
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.msg = "resource exhausted (%s): %s; %d similar line(s) dropped since the last"
        record.args = (reason, first_line, self._dropped)
        record.exc_info = record.exc_text = None
        self._dropped = 0
        return True
