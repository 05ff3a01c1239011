"""HTTP requests with bytes no ordinary client sends: raw header values, raw bodies.

`http.client` passes bytes header values through as they are (only CR/LF are refused), so a
test can send `Authorization: Bearer \\xff\\xfe` exactly as an attacker's socket would.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def raw_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, bytes | str]] = (),
    body: bytes = b"",
    timeout: float = 30.0,
) -> RawAnswer:
    """One request on a fresh connection to 127.0.0.1:`port`; the answer with its text."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return RawAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
    finally:
        connection.close()


def post_json_text(
    port: int, path: str, text: str | bytes, *, token: str, timeout: float = 30.0
) -> RawAnswer:
    """POST a body written by hand (so it can hold what json.dumps never writes)."""
    body = text.encode() if isinstance(text, str) else text
    return raw_request(
        port,
        "POST",
        path,
        headers=[("Authorization", f"Bearer {token}"), ("Content-Type", "application/json")],
        body=body,
        timeout=timeout,
    )
