"""Process metrics in the Prometheus text format: counters and histograms, plus outbox and
health gauges.

The worker reports each send through `observe_send` (latency, and the class of the error when it
fails); the HTTP front end counts requests by route template. Gauges about the outbox
(deliveries by status and channel, queue depth, age of the oldest due delivery) come from one
scan of the delivery table, cached (`GaugeCache`): however often `/metrics` is scraped, the
table is scanned at most once every GAUGE_MAX_AGE_S, one scan at a time. The health gauges
(subjects by kind and state, the days left on each mail server's certificate) come from the
health table the same way. Labels never carry tenant names or addresses: a server is its id.

Everything here is thread-safe and dependency-free; nothing is built at import time except the
empty registry.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from core.errors import DeliveryError
from core.models._common import utcnow
from core.models.delivery import CHANNELS, STATUSES, Delivery
from core.models.health import HealthSubject
from core.vocabulary import DeliveryStatus, HealthKind, HealthState

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    _values: dict[tuple[str, ...], float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]
        return lines


@dataclass
class Histogram:
    name: str
    help: str
    labelnames: tuple[str, ...] = ()
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    _series: dict[tuple[str, ...], list[float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            # per series: one count per bucket, then the sum and the total count
            series = self._series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, *labels: str) -> int:
        with self._lock:
            series = self._series.get(labels)
            return int(series[-1]) if series else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, series in items:
            for i, bound in enumerate(self.buckets):
                le = f'le="{_number(bound)}"'
                lines.append(
                    f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {_number(series[i])}"
                )
            inf = _labels(self.labelnames, labels, 'le="+Inf"')
            lines.append(f"{self.name}_bucket{inf} {_number(series[-1])}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, labels)} {series[-2]!r}")
            lines.append(
                f"{self.name}_count{_labels(self.labelnames, labels)} {_number(series[-1])}"
            )
        return lines


SENDS = Counter(
    "mailbell_sends_total",
    "Send attempts made by the worker, by channel and outcome (ok or error).",
    ("channel", "outcome"),
)
SEND_LATENCY = Histogram(
    "mailbell_send_duration_seconds",
    "Time of one send attempt (SMTP transaction or Slack post), in seconds.",
    ("channel",),
)
SEND_ERRORS = Counter(
    "mailbell_send_errors_total",
    "Failed send attempts by channel and error class "
    "(smtp_4xx, smtp_5xx, timeout, connection, tls, auth, other).",
    ("channel", "class"),
)
HTTP_REQUESTS = Counter(
    "mailbell_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
GAUGE_REFRESHES = Counter(
    "mailbell_outbox_gauge_refreshes_total",
    "Times the outbox gauges were recomputed from the delivery table (at most one per 5 s).",
)
REGISTRY: tuple[Counter | Histogram, ...] = (
    SENDS,
    SEND_LATENCY,
    SEND_ERRORS,
    HTTP_REQUESTS,
    GAUGE_REFRESHES,
)


def error_class(exc: BaseException) -> str:
    """A coarse, label-safe class for a failed send (no addresses, no server names)."""
    if isinstance(exc, DeliveryError):
        if exc.code is not None and 400 <= exc.code < 600:
            return f"smtp_{exc.code // 100}xx"
        if "timed out" in exc.message:
            return "timeout"
        if exc.step in ("dns", "proxy", "connect", "greeting"):
            return "connection"
        if exc.step in ("tls", "starttls"):
            return "tls"
        if exc.step in ("auth", "oauth"):
            return "auth"
        if exc.step in ("mail", "rcpt", "data", "ehlo"):
            return "connection"  # the server closed the connection mid-transaction
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "connection"
    return "other"


@contextmanager
def observe_send(channel: str) -> Iterator[None]:
    """Time one send; count it, and its error class when it raises (the error propagates)."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        SEND_LATENCY.observe(time.perf_counter() - started, channel)
        SENDS.inc(channel, "error")
        SEND_ERRORS.inc(channel, error_class(exc))
        raise
    SEND_LATENCY.observe(time.perf_counter() - started, channel)
    SENDS.inc(channel, "ok")


def record_refusals(channel: str, codes: Sequence[int]) -> None:
    """Recipients refused one by one inside an otherwise successful send."""
    for code in codes:
        SEND_ERRORS.inc(channel, f"smtp_{code // 100}xx" if 400 <= code < 600 else "other")


# -- outbox gauges (read at scrape time) ---------------------------------------------------------


@dataclass(frozen=True)
class OutboxGauges:
    by_status_channel: dict[tuple[str, str], int]
    queue_depth: int  # queued rows, due now or later (retries waiting for their next attempt)
    due_now: int
    oldest_due_age_s: float  # how long the oldest due row has been waiting; 0 when none


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def outbox_gauges(session: Session, *, now: datetime | None = None) -> OutboxGauges:
    now = now or utcnow()
    counts: dict[tuple[str, str], int] = {(s, c): 0 for s in STATUSES for c in CHANNELS}
    rows = session.exec(
        select(Delivery.status, Delivery.channel, func.count()).group_by(
            col(Delivery.status), col(Delivery.channel)
        )
    ).all()
    for status, channel, count in rows:
        counts[(status, channel)] = int(count)
    due = session.exec(
        select(func.count(), func.min(Delivery.next_attempt_at)).where(
            col(Delivery.status) == DeliveryStatus.QUEUED, col(Delivery.next_attempt_at) <= now
        )
    ).one()
    due_now, oldest = int(due[0] or 0), due[1]
    age = max(0.0, (now - _aware(oldest)).total_seconds()) if oldest is not None else 0.0
    depth = sum(n for (status, _), n in counts.items() if status == DeliveryStatus.QUEUED)
    return OutboxGauges(counts, depth, due_now, age)


# -- health gauges ------------------------------------------------------------------------------

MAIL_SERVER_PREFIX = "mail_server:"


@dataclass(frozen=True)
class HealthGauges:
    by_kind_state: dict[tuple[str, str], int]  # every kind and state, 0 included
    certificate_days: dict[str, float]  # server id → days left (negative: expired)


def health_gauges(session: Session) -> HealthGauges:
    """One grouped count of the health subjects, and the certificate days of the mail server
    subjects (one row per server, its JSON detail only)."""
    counts = {(kind.value, state.value): 0 for kind in HealthKind for state in HealthState}
    rows = session.exec(
        select(HealthSubject.kind, HealthSubject.state, func.count()).group_by(
            col(HealthSubject.kind), col(HealthSubject.state)
        )
    ).all()
    for kind, state, count in rows:
        counts[(kind, state)] = int(count)
    days: dict[str, float] = {}
    servers = session.exec(
        select(HealthSubject.key, HealthSubject.detail).where(
            col(HealthSubject.key).startswith(MAIL_SERVER_PREFIX)
        )
    ).all()
    for key, detail in servers:
        # the server's id (the key's suffix) is the only name a label may carry
        server = key.removeprefix(MAIL_SERVER_PREFIX)
        value = (detail or {}).get("certificate_days")
        if server.isdigit() and isinstance(value, int | float) and not isinstance(value, bool):
            days[server] = float(value)
    return HealthGauges(counts, days)


GAUGE_MAX_AGE_S = 5.0
G = TypeVar("G")


class GaugeCache(Generic[G]):
    """Gauges (the outbox's, the health table's), recomputed at most every `max_age_s`, by one
    refresh at a time.

    A scan of a large delivery table takes a while (hundreds of milliseconds at 500,000 rows on
    SQLite); scraped by many clients, one scan per request would keep every database thread
    busy. Here the first caller past `max_age_s` starts the one refresh (`refresh()`, which runs
    the scan off the event loop) and every caller meanwhile gets the previous gauges; only the
    very first scrape waits. A failed refresh is retried by the next scrape.
    """

    def __init__(
        self, *, max_age_s: float = GAUGE_MAX_AGE_S, counter: Counter | None = GAUGE_REFRESHES
    ) -> None:
        self.max_age_s = max_age_s
        self.counter = counter  # counts the refreshes (the outbox's are a public metric)
        self._gauges: G | None = None
        self._at = float("-inf")
        self._pending: asyncio.Future[G] | None = None

    async def get(self, refresh: Callable[[], Awaitable[G]]) -> G:
        fresh = time.monotonic() - self._at < self.max_age_s
        if self._gauges is not None and fresh:
            return self._gauges
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._refresh(refresh))
            self._pending.add_done_callback(_retrieve)
        if self._gauges is not None:
            return self._gauges
        return await asyncio.shield(self._pending)

    async def _refresh(self, refresh: Callable[[], Awaitable[G]]) -> G:
        try:
            gauges = await refresh()
            if self.counter is not None:
                self.counter.inc()
            self._gauges, self._at = gauges, time.monotonic()
            return gauges
        finally:
            self._pending = None


def _retrieve(future: asyncio.Future[Any]) -> None:
    """A refresh nobody waited for may fail (the next scrape retries): its error is taken here
    so that asyncio does not report it as never retrieved."""
    if not future.cancelled():
        future.exception()


def check_database(session: Session) -> None:
    """Raise when the database does not answer (for health checks)."""
    session.connection().execute(text("SELECT 1")).one()


def _gauge(name: str, help_: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return lines


def _health_lines(health: HealthGauges) -> list[str]:
    lines = _gauge(
        "mailbell_health_state",
        "Health subjects (mail servers, accounts, Slack, backlogs, the service) by kind and state.",
        [
            (_labels(("kind", "state"), key), float(n))
            for key, n in sorted(health.by_kind_state.items())
        ],
    )
    lines += _gauge(
        "mailbell_certificate_expiry_days",
        "Days until the certificate of each checked mail server (by id) expires; negative: "
        "expired.",
        [
            (_labels(("server",), (server,)), days)
            for server, days in sorted(health.certificate_days.items(), key=lambda i: int(i[0]))
        ],
    )
    return lines


def render(
    gauges: OutboxGauges | None = None,
    *,
    health: HealthGauges | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The whole exposition: outbox and health gauges (when given), then every counter and
    histogram."""
    lines: list[str] = []
    if gauges is not None:
        lines += _gauge(
            "mailbell_deliveries",
            "Deliveries in the outbox by status and channel.",
            [
                (_labels(("status", "channel"), key), float(n))
                for key, n in sorted(gauges.by_status_channel.items())
            ],
        )
        lines += _gauge(
            "mailbell_queue_depth",
            "Queued deliveries (due now or waiting for a retry).",
            [("", float(gauges.queue_depth))],
        )
        lines += _gauge(
            "mailbell_queue_due", "Queued deliveries that are due now.", [("", gauges.due_now)]
        )
        lines += _gauge(
            "mailbell_queue_oldest_due_age_seconds",
            "How long the oldest due delivery has been waiting (0 when none is due).",
            [("", gauges.oldest_due_age_s)],
        )
    if health is not None:
        lines += _health_lines(health)
    for name, (help_, value) in sorted((extra or {}).items()):
        lines += _gauge(name, help_, [("", float(value))])
    for metric in REGISTRY:
        lines += metric.render()
    return "\n".join(lines) + "\n"
