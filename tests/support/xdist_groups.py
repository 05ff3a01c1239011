"""Which tests run one after another when a pass is spread over processes (pytest-xdist).

`make test` runs each pass (SQLite, PostgreSQL) on two xdist workers with `--dist loadgroup`:
an unmarked test goes to whichever worker is free. The tests below share one group, so in a pass
they run in sequence on one worker (the largest group is handed out first) while the other
worker goes through the rest:
- tests that measure time (an answer budget, a timeout, a latency, a rate per minute): another
  of them beside it, hogging a CPU, would make it fail for a reason that is not its own;
- tests that hog the CPUs on purpose (worker processes draining thousands of messages, the fuzz
  run, the worst templates, the metrics hammer).
A new test of either kind belongs here: add its file (or its node id) to SERIAL.
"""

from __future__ import annotations

import pytest

GROUP = "serial"

SERIAL = (
    "tests/reliability/",
    "tests/api/test_emit_render_isolation.py",
    "tests/api/test_fuzz.py",
    "tests/api/test_health_truth.py",
    "tests/api/test_malformed_input.py::test_a_locked_database_is_503_with_retry_after",
    "tests/api/test_metrics_cache.py",
    "tests/api/test_slow_clients.py",
    "tests/api/test_template_budget.py",
    "tests/core/test_key_reload.py",
    "tests/core/test_render_budget.py",
    "tests/slackbot/test_busy_database.py",
    "tests/slackbot/test_request_guard.py",
    "tests/slackbot/test_requests.py",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SERIAL):
            item.add_marker(pytest.mark.xdist_group(GROUP))
