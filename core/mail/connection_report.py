"""The report of a connection test (core/mail/diagnose.py): its steps and their outcome.

Apart from the walk itself so that front ends can read a report without loading the SMTP client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StepResult:
    step: str
    ok: bool
    detail: str
    reply: str | None = None
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConnectionReport:
    host: str
    port: int
    security: str
    auth: str
    steps: list[StepResult] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((step for step in self.steps if not step.ok), None)

    def summary(self) -> str:
        failed = self.failed
        if failed is None:
            return (
                f"connection to {self.host}:{self.port} works ({self.security}, auth {self.auth})"
            )
        text = f"{failed.step} failed: {failed.detail}"
        return f"{text} — {failed.hint}" if failed.hint else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "auth": self.auth,
            "summary": self.summary(),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "steps": [asdict(step) for step in self.steps],
        }


StepCallback = Callable[[StepResult], object]
