"""Template validation in a worker process: a template being saved is test-rendered there.

A render holds the GIL while it runs, so a thread of the API process checking one tenant's
expensive templates would slow every other request of that process, whatever its budget. In a
process of its own it takes one CPU and its own memory, and answers in plain data (a refusal as
`(field, message)`) that crosses the process boundary.
"""

from __future__ import annotations

import os
import resource
import threading
import time

from core import render_budget
from core.errors import ValidationError

# The checking process's address space: far above a budgeted render, and a hard stop if a
# template found a way around the budget.
ADDRESS_SPACE_BYTES = 2 * 1024**3
PARENT_CHECK_S = 1.0


def start_worker(max_bytes: int, timeout_ms: int) -> None:
    """Process initializer: the API's budget, and the memory ceiling."""
    render_budget.configure(max_bytes, timeout_ms)
    _exit_with(os.getppid())
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > ADDRESS_SPACE_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, hard))


def _exit_with(parent: int) -> None:
    """End this process once its parent is gone. The pool's pipes stay open in this process
    itself, so a `mailbell serve` that was killed (SIGKILL, OOM) would otherwise leave it
    waiting for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def check_template(name: str, mail_from: str, subject: str, body: str) -> tuple[str, str] | None:
    """None when the template passes, else the refusal's (field, message)."""
    from core.template_validation import validate_template

    try:
        validate_template(name, mail_from=mail_from, subject=subject, body=body)
    except ValidationError as exc:
        return exc.field, exc.message
    return None
