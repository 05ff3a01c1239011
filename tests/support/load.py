"""Measuring a real `mailbell serve` under load: keep-alive clients, a /healthz probe thread,
percentiles."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from typing import Any, Protocol


class Served(Protocol):
    port: int


class Client:
    """One keep-alive connection to the server (a new connection per request would measure
    connection setup, not the server)."""

    def __init__(self, serve: Served, token: str | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
        self.token = token

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=headers)
        response = self.connection.getresponse()
        raw = response.read()
        took = time.perf_counter() - started
        return response.status, json.loads(raw) if raw else None, took

    def close(self) -> None:
        self.connection.close()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def health_probe(
    client: Client, stop: threading.Event, failures: list[BaseException], times: list[float]
) -> threading.Thread:
    """A thread (not started) that polls /healthz every 10 ms until `stop`, recording each
    answer's time in `times`; an answer other than 200 ends it, into `failures`."""

    def probe() -> None:
        try:
            while not stop.is_set():
                status, _, took = client.request("GET", "/healthz")
                assert status == 200, status
                times.append(took)
                time.sleep(0.01)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    return threading.Thread(target=probe)
