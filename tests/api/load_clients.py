"""Clients hammering one URL from a process of their own (so that their CPU is not the test's).

python -m tests.api.load_clients URL CLIENTS SECONDS   # prints "requests statuses" as JSON
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def hammer(url: str, clients: int, seconds: float) -> dict[str, int]:
    parts = urlsplit(url)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.monotonic() < deadline:
            connection.request("GET", parts.path)
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {str(status): count for status, count in statuses.items()}


if __name__ == "__main__":
    print(json.dumps(hammer(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))), flush=True)
