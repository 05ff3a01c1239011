"""The step-by-step report of a connection test: DNS → TCP → TLS → EHLO → AUTH, ✓ or ✗ each."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from core.vocabulary import SecurityMode
from core.vocabulary import connection_step_label as step_label

EXPECTED = ("dns", "connect", "tls", "greeting", "ehlo", "auth", "mail")


class StepReport(Static):
    """Rows appear as steps finish; `pending` shows what is still to come while it runs."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, classes="step-report")
        self.steps: list[Any] = []
        self.running = False
        self.summary: Text | None = None

    def start(self, security: str | None = None) -> None:
        self.steps = []
        self.summary = None
        self.running = True
        # The "tls" step (a TLS handshake before the greeting) happens in implicit TLS only.
        self.expected = [s for s in EXPECTED if s != "tls" or security == SecurityMode.TLS]
        self._draw()

    def add_step(self, step: Any) -> None:
        self.steps.append(step)
        self._draw()

    def finish(self, report: Any) -> None:
        self.running = False
        self.steps = list(report.steps)
        ok = report.ok
        self.summary = Text(
            ("✓ " if ok else "✗ ") + report.summary(),
            style="bold green" if ok else "bold red",
        )
        self.summary.append(f"  ({report.elapsed_ms:.0f} ms)", style="dim")
        self._draw()

    def fail(self, reason: str) -> None:
        self.running = False
        self.summary = Text(f"✗ {reason}", style="bold red")
        self._draw()

    def _draw(self) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1)
        table.add_column(width=9, no_wrap=True)
        table.add_column(ratio=1)
        done = set()
        for step in self.steps:
            done.add(step.step)
            mark = Text("✓", style="bold green") if step.ok else Text("✗", style="bold red")
            detail = Text(step.detail)
            if step.reply and not step.ok and step.reply not in step.detail:
                detail.append(f"\nreply: {step.reply}", style="yellow")
            if step.hint:
                detail.append(f"\nhint: {step.hint}", style="italic cyan" if step.ok else "yellow")
            table.add_row(mark, Text(step_label(step.step), style="bold"), detail)
        if self.running:
            # Through a proxy, its step stands for DNS and TCP: they will not come.
            skipped = {"dns", "connect"} if "proxy" in done else set()
            for name in self.expected:
                if name not in done and name not in skipped:
                    table.add_row(
                        Text("·", style="dim"),
                        Text(step_label(name), style="dim"),
                        Text("waiting…", style="dim"),
                    )
        parts: list[Any] = [table]
        if self.summary is not None:
            parts.append(Text(""))
            parts.append(self.summary)
        self.update(Group(*parts))
