"""Which tests run one after another when the passes are spread over processes (pytest-xdist).

`make test` runs its two passes (SQLite, PostgreSQL) side by side, each on two xdist workers
with `--dist loadgroup`: an unmarked test goes to whichever worker of its pass is free. The
tests below are the `serial` group:
- tests that measure time (an answer budget, a timeout, a latency, a rate per minute): another
  of them beside it, hogging a CPU, would make it fail for a reason that is not its own;
- tests that hog the CPUs on purpose (worker processes draining thousands of messages, the fuzz
  run, the worst templates, the metrics hammer).
In a pass they run in sequence on one worker (xdist hands the largest group out first). Across
the two passes a lock file of the checkout keeps them apart too, so at any time at most one of
them runs on the machine, beside ordinary tests only.
A new test of either kind belongs here: add its file (or its node id) to SERIAL.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

GROUP = "serial"

SERIAL = (
    "tests/reliability/",
    "tests/api/test_attachment_ingest.py::test_slow_server_times_out_and_the_mail_says_why",
    "tests/api/test_emit_render_isolation.py",
    "tests/api/test_fuzz.py",
    "tests/api/test_health_truth.py",
    "tests/api/test_malformed_input.py::test_a_locked_database_is_503_with_retry_after",
    "tests/api/test_metrics_cache.py",
    "tests/api/test_slow_clients.py",
    "tests/api/test_template_budget.py",
    "tests/core/test_health_runner.py::test_a_pass_longer_than_a_few_timeouts_is_recorded_and_the_rest_reported_unchecked",
    "tests/core/test_key_reload.py",
    "tests/core/test_render_budget.py",
    "tests/mail/test_attachments.py::test_fetch_of_a_slow_server_gives_up_in_time",
    "tests/slackbot/test_busy_database.py",
    "tests/slackbot/test_request_guard.py",
    "tests/slackbot/test_requests.py::test_ack_is_fast_and_auth_test_is_called_once",
)


def _lock_path(rootdir: Path) -> Path:
    # One per checkout: both passes of one `make test` share it, another checkout's do not.
    digest = hashlib.sha256(str(rootdir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mailbell-tests-serial-{digest}.lock"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.xdist_group(GROUP))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """A serial test (setup, call and teardown) holds the checkout's lock."""
    if not item.nodeid.split("@")[0].startswith(SERIAL):
        return (yield)
    fd = os.open(_lock_path(item.config.rootpath), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            return (yield)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
