"""What a send's result makes of a delivery: its next status, pending recipients, per-recipient
results, next attempt and the attempt row (`Outcome`), and the worker's counts.

- `after_send`: accepted recipients are sent; a 4xx refusal keeps its recipient pending, retried
  alone; a 5xx refusal fails that recipient. Some sent and some refused for good: `partial`.
- `retry`: due again after a backoff (or the delay the other side asked for), or failed once the
  delivery is older than the retry max age (`partial` when earlier attempts reached someone).
- `deferred`: paced (a rate limit's slot is further off): due again, the attempt not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core import metrics
from core.channels.base import ChannelResult, ClaimedDelivery
from core.models._common import utcnow
from core.pipeline.outbox import Outcome
from core.pipeline.pacing import backoff_delay
from core.vocabulary import DeliveryStatus


@dataclass
class WorkerStats:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    partial: int = 0  # of the sent and failed: final with some recipients reached, some not
    paced: int = 0
    database_errors: int = 0
    pruned_deliveries: int = 0
    pruned_audit_entries: int = 0


class OutcomeRules:
    """The rules above, counting into `stats`."""

    def __init__(self, stats: WorkerStats, *, retry_base_s: float, retry_max_age_s: float) -> None:
        self.stats = stats
        self.retry_base_s = retry_base_s
        self.retry_max_age_s = retry_max_age_s

    def deferred(self, delivery: ClaimedDelivery, wait: float) -> Outcome:
        """Paced: due again in `wait` seconds; the attempt does not count."""
        self.stats.paced += 1
        return Outcome(
            id=delivery.id,
            status=DeliveryStatus.QUEUED,
            pending=delivery.pending,
            results=delivery.results,
            next_attempt_at=utcnow() + timedelta(seconds=wait),
            attempts_delta=-1,
        )

    def retry(
        self,
        delivery: ClaimedDelivery,
        error: str,
        reply: str | None = None,
        *,
        pending: list[str] | None = None,
        results: dict[str, Any] | None = None,
        delay: float | None = None,
        detail: str | None = None,
    ) -> Outcome:
        """Queue again after a backoff (or `delay`), or fail once older than the max age.

        `detail` is what the attempt row records (default: `error`)."""
        pending = delivery.pending if pending is None else pending
        results = delivery.results if results is None else results
        if delay is None:
            delay = backoff_delay(delivery.attempts, self.retry_base_s)
        due = utcnow() + timedelta(seconds=delay)
        if due - delivery.created_at > timedelta(seconds=self.retry_max_age_s):
            return self.fail(
                delivery,
                f"gave up after {delivery.attempts} attempts: {error}",
                reply,
                pending=pending,
                results=results,
            )
        self.stats.retried += 1
        return Outcome(
            id=delivery.id,
            status=DeliveryStatus.QUEUED,
            pending=pending,
            results=results,
            last_error=error,
            reply=reply,
            next_attempt_at=due,
            attempt="retry",
            detail=error if detail is None else detail,
        )

    def fail(
        self,
        delivery: ClaimedDelivery,
        error: str,
        reply: str | None = None,
        *,
        pending: list[str] | None = None,
        results: dict[str, Any] | None = None,
    ) -> Outcome:
        self.stats.failed += 1
        results = dict(delivery.results if results is None else results)
        for address in delivery.pending if pending is None else pending:
            results[address] = {"status": "failed", "reply": reply or error}
        # Recipients an earlier attempt reached got it: final, but not a failure for them.
        reached = any(r["status"] == "sent" for r in results.values())
        self.stats.partial += reached
        return Outcome(
            id=delivery.id,
            status=DeliveryStatus.PARTIAL if reached else DeliveryStatus.FAILED,
            pending=[],
            results=results,
            last_error=error,
            reply=reply,
            attempt="failed",
            detail=error,
        )

    def after_send(self, delivery: ClaimedDelivery, result: ChannelResult) -> Outcome:
        """Per-recipient outcomes: 4xx refusals stay pending and are retried alone."""
        results = dict(delivery.results)
        metrics.record_refusals(delivery.channel, [code for code, _ in result.refused.values()])
        for address in result.accepted:
            results[address] = {"status": "sent", "reply": result.reply}
        deferred = []
        for address, (code, message) in result.refused.items():
            status = "pending" if code // 100 == 4 else "failed"
            results[address] = {"status": status, "reply": f"{code} {message}"}
            if status == "pending":
                deferred.append(address)

        def summary(addresses: list[str]) -> str:
            return "; ".join(f"{a}: {results[a]['reply']}" for a in addresses)

        # The attempt row: the server's reply, then whom it refused in this attempt and how.
        notes = [result.reply if result.accepted else None]
        if result.refused:
            notes.append(f"refused {summary(list(result.refused))}")
        detail = "; ".join(note for note in notes if note) or None

        if deferred:
            return self.retry(
                delivery,
                f"{len(deferred)} recipient(s) deferred: {summary(deferred)}",
                pending=deferred,
                results=results,
                detail=detail,
            )
        refused = [a for a, r in results.items() if r["status"] == "failed"]
        if not any(r["status"] == "sent" for r in results.values()):
            return self.fail(
                delivery,
                f"every recipient was refused: {summary(refused)}",
                result.reply,
                pending=[],
                results=results,
            )
        self.stats.sent += 1
        self.stats.partial += bool(refused)
        return Outcome(
            id=delivery.id,
            status=DeliveryStatus.PARTIAL if refused else DeliveryStatus.SENT,
            pending=[],
            results=results,
            last_error=(
                f"{len(refused)} of {len(results)} recipient(s) refused: {summary(refused)}"
                if refused
                else None
            ),
            reply=result.reply,
            sent_at=utcnow(),
            attempt="partial" if result.refused else "sent",
            detail=detail,
        )
