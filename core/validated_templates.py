"""Remembers the outcome of recent template validations, so a template is rendered once.

The API validates a template being saved on an executor of its own before the write, then the
service validates it again inside the write (the CLI and TUI call only the service): the second
call must not render it again on the shared writer thread. Keys are SHA-256 digests of the
event, the three parts and the render budget (which decides the outcome), so the cache holds
no template text; the outcome is None (passed) or the `ValidationError` to raise again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from core import render_budget
from core.errors import ValidationError

MAX_ENTRIES = 1024
_MISSING = object()


class ValidationCache:
    """A bounded, thread-safe LRU of validation outcomes."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[bytes, ValidationError | None] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    @staticmethod
    def key(name: str, mail_from: str, subject: str, body: str) -> bytes:
        digest = hashlib.sha256()
        budget = (render_budget.max_bytes(), render_budget.timeout_ms())
        for part in (name.upper(), *map(str, budget), mail_from, subject, body):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big"))  # no two splits give the same bytes
            digest.update(data)
        return digest.digest()

    def check(self, key: bytes, validate: Callable[[], None]) -> None:
        """Raise the remembered refusal, return if it passed; otherwise validate and remember."""
        with self._lock:
            outcome = self._entries.get(key, _MISSING)
            if outcome is not _MISSING:
                self._entries.move_to_end(key)
        if outcome is _MISSING:
            try:
                validate()
                outcome = None
            except ValidationError as exc:
                outcome = exc
            with self._lock:
                self._remember(key, outcome)
        if isinstance(outcome, ValidationError):
            raise ValidationError(outcome.field, outcome.message)

    def known(self, key: bytes) -> bool:
        with self._lock:
            return key in self._entries

    def remember(self, key: bytes, outcome: ValidationError | None) -> None:
        """Record an outcome found elsewhere (the API's checking process)."""
        with self._lock:
            self._remember(key, outcome)

    def _remember(self, key: bytes, outcome: ValidationError | None) -> None:
        self._entries[key] = outcome
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


VALIDATED = ValidationCache()
