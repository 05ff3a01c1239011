"""The budget of one template render: wall time, steps, bytes built and bytes written.

Every render of a mailbell template (`BudgetTemplate.render` in core/sandbox.py) runs with a
`Budget` of its own in a contextvar, so renders on different threads never share one. The
sandbox's hooks charge it:

- `tick()` for every call, attribute lookup, operator and loop iteration: at most `MAX_STEPS`
  per render, and the wall-clock deadline is checked every `_CLOCK_EVERY` steps (reading the
  clock on every step would cost more than the step);
- `produce(size)` for every string a call, filter, `~`, `+` or `*` builds: no single value
  larger than the output cap, and no more than `PRODUCED_FACTOR` times the output cap built in
  all (a loop that keeps building strings is stopped even when it keeps none of them);
- `run()` consumes `Template.generate()` chunk by chunk and stops at the output cap, so an
  oversized message is never assembled.

Over budget is `BudgetExceeded`, a sandbox `SecurityError` whose message names the rule:
`template exceeds the render budget (2 MB output)`. Its limits come from the settings
(`configure`, called where the settings are loaded); the defaults are the settings' defaults.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import jinja2
from jinja2.sandbox import SecurityError

# Loop iterations plus calls, lookups and operators of one render. The default templates take
# a few hundred; nested loops over range(10000) would take 10^8.
MAX_STEPS = 200_000
# Width, fill and count arguments of str methods and filters (center, ljust, indent, ...).
MAX_WIDTH = 10_000
# A header line (subject, From) after folding, as RFC 5322 allows.
MAX_LINE_BYTES = 998
# Total bytes of strings one render may build, as a multiple of the output cap.
PRODUCED_FACTOR = 4
_CLOCK_EVERY = 64

_DEFAULT_MAX_BYTES = 2 * 1024 * 1024
_DEFAULT_TIMEOUT_MS = 250
_limits = {"max_bytes": _DEFAULT_MAX_BYTES, "timeout_ms": _DEFAULT_TIMEOUT_MS}


def configure(max_bytes: int, timeout_ms: int) -> None:
    """Set the output cap (bytes of a body) and the wall time of one render (ms)."""
    if max_bytes < 1024:
        raise ValueError("MAILBELL_TEMPLATE_MAX_BYTES must be at least 1024")
    if timeout_ms < 1:
        raise ValueError("MAILBELL_TEMPLATE_TIMEOUT_MS must be at least 1")
    _limits["max_bytes"], _limits["timeout_ms"] = max_bytes, timeout_ms


def max_bytes() -> int:
    return _limits["max_bytes"]


def timeout_ms() -> int:
    return _limits["timeout_ms"]


def size_text(size: int) -> str:
    """2097152 -> "2 MB", 65536 -> "64 KB", 998 -> "998 bytes" (binary units)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


class BudgetExceeded(SecurityError):
    """A render went over its budget; the message names the rule that stopped it. (A sandbox
    refusal: whoever stops unsafe templates stops these too.)"""

    def __init__(self, rule: str) -> None:
        super().__init__(f"template exceeds the render budget ({rule})")


class Budget:
    """What one render may still spend."""

    __slots__ = ("deadline", "max_output", "max_produced", "produced", "steps")

    def __init__(self) -> None:
        self.max_output = _limits["max_bytes"]
        self.max_produced = self.max_output * PRODUCED_FACTOR
        self.deadline = time.monotonic() + _limits["timeout_ms"] / 1000
        self.steps = 0
        self.produced = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps % _CLOCK_EVERY == 0:
            if self.steps > MAX_STEPS:
                raise BudgetExceeded(f"{MAX_STEPS} loop iterations and calls")
            self.check_clock()

    def check_clock(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"{_limits['timeout_ms']} ms")

    def produce(self, size: int) -> None:
        if size > self.max_output:
            raise BudgetExceeded(f"{size_text(self.max_output)} output")
        self.produced += size
        if self.produced > self.max_produced:
            raise BudgetExceeded(f"{size_text(self.max_produced)} of strings built")

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item


_current: ContextVar[Budget | None] = ContextVar("mailbell_render_budget", default=None)


def current() -> Budget | None:
    """The budget of the render running in this context, if any."""
    return _current.get()


def check_size(size: int) -> None:
    """A value of `size` bytes/items is about to be built: refuse it when over the cap."""
    limit = _limits["max_bytes"]
    if size > limit:
        raise BudgetExceeded(f"{size_text(limit)} output")


def check_width(name: str, value: Any) -> None:
    if isinstance(value, int) and value > MAX_WIDTH:
        raise BudgetExceeded(f"{name} is at most {MAX_WIDTH}")


def check_line(value: str) -> None:
    """A folded header line (subject, From) fits in one line of a message."""
    size = len(value) if value.isascii() else len(value.encode("utf-8"))
    if size > MAX_LINE_BYTES:
        raise BudgetExceeded(f"{MAX_LINE_BYTES} bytes after folding")


def run(template: jinja2.Template, context: Mapping[str, Any]) -> str:
    """Render `template` within a fresh budget; the output is assembled only while it fits."""
    budget = Budget()
    token = _current.set(budget)
    try:
        limit = budget.max_output
        chunks: list[str] = []
        add = chunks.append
        size = 0
        # `Template.generate` without its extra generator layer per chunk; errors still go
        # through Jinja's handler, which points their traceback at template lines.
        try:
            variables = context if isinstance(context, dict) else dict(context)
            for chunk in template.root_render_func(template.new_context(variables)):
                size += len(chunk)
                if size > limit:  # characters: never more than the UTF-8 bytes
                    raise BudgetExceeded(f"{size_text(limit)} output")
                add(chunk)
        except Exception:
            template.environment.handle_exception()
        output = "".join(chunks)
        if size * 4 > limit and not output.isascii() and len(output.encode("utf-8")) > limit:
            raise BudgetExceeded(f"{size_text(limit)} output")
        budget.check_clock()
        return output
    finally:
        _current.reset(token)
