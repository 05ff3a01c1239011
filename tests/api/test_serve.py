"""`mailbell serve` as a process: answers, delivers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.context import Context
from core.models.delivery import Delivery
from tests.api.conftest import QUEUE_CALL_LOST, Tokens, smtp_settings
from tests.api.serve_process import ServeProcess
from tests.support.smtp_servers import FaultHandler, SmtpTestServer


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_serve_answers_then_exits_0_on_sigterm(
    ctx: Context, tokens: Tokens, tmp_path: Path
) -> None:
    with ServeProcess(log_path=tmp_path / "serve.log") as serve:
        status, body = http("GET", f"{serve.url}/healthz")
        assert status == 200
        # the worker announces itself as it starts: counted once its first read is past
        assert body.pop("workers") in (0, 1)
        assert body == {
            "status": "ok",
            "database": "ok",
            "worker": "running",
            "imap_scheduler": "running",
            "health": "running",
        }
        status, body = http("GET", f"{serve.url}/api/tenant/notification", token=tokens.acme)
        assert status == 200
        status, _ = http("GET", f"{serve.url}/api/tenant/notification")
        assert status == 401
        code, took = serve.terminate()
        logs = serve.logs
    assert code == 0, logs
    assert took < 10
    lines = _json_lines(logs)
    messages = [line["msg"] for line in lines]
    assert any(m.startswith("listening on") for m in messages)
    assert "stopping" in messages and "stopped" in messages
    requests = [line for line in lines if line.get("route") == "/api/tenant/notification"]
    assert {line["status"] for line in requests} == {200, 401}
    assert tokens.acme not in logs and "Bearer" not in logs


def test_no_worker_serves_http_only(ctx: Context, tokens: Tokens, tmp_path: Path) -> None:
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        assert http("GET", f"{serve.url}/healthz") == (
            200,
            {"status": "ok", "database": "ok", "workers": 0},
        )
        code, took = serve.terminate()
    assert (code, took < 10) == (0, True)


def test_event_posted_to_serve_arrives_at_the_smtp_server(
    ctx: Context, tokens: Tokens, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    with ServeProcess(log_path=tmp_path / "serve.log") as serve:
        settings = smtp_settings(
            smtp_server, recipients="ops@acme.example", notify_queue_call_lost=True
        )
        status, body = http(
            "POST", f"{serve.url}/api/tenant/notification", settings, token=tokens.acme
        )
        assert status == 200, body
        status, body = http(
            "POST",
            f"{serve.url}/api/events",
            {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "e2e-1"},
            token=tokens.acme,
        )
        assert status == 202, body
        delivery_id = body["deliveries"][0]["id"]
        messages = smtp_server.handler.wait_for(1, timeout=10)
        assert len(messages) == 1, serve.logs
        assert messages[0].rcpt_tos == ["ops@acme.example"]
        assert messages[0].mail_from == "pbx@acme.example"
        _wait_for(lambda: _status(ctx, delivery_id) == "sent", serve)
        code, _ = serve.terminate()
    assert code == 0


def test_sigterm_during_a_stalled_send_releases_the_lease_within_10_s(
    ctx: Context,
    tokens: Tokens,
    smtp_servers: Callable[..., SmtpTestServer],
    tmp_path: Path,
) -> None:
    stalling = smtp_servers(handler=FaultHandler(stall=60, stall_at="data"))
    with ServeProcess(log_path=tmp_path / "serve.log") as serve:
        settings = smtp_settings(
            stalling, recipients="ops@acme.example", notify_queue_call_lost=True, timeout=60
        )
        assert (
            http("POST", f"{serve.url}/api/tenant/notification", settings, token=tokens.acme)[0]
            == 200
        )
        status, body = http(
            "POST",
            f"{serve.url}/api/events",
            {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST},
            token=tokens.acme,
        )
        assert status == 202
        delivery_id = body["deliveries"][0]["id"]
        _wait_for(lambda: _status(ctx, delivery_id) == "sending", serve)
        code, took = serve.terminate()
        logs = serve.logs
    assert code == 0, logs
    assert took < 10
    with ctx.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        assert delivery.status == "queued"  # given back: due again for the next worker
        assert delivery.lease_owner is None
    assert stalling.messages == []


def _status(ctx: Context, delivery_id: int) -> str | None:
    with ctx.session() as session:
        delivery = session.get(Delivery, delivery_id)
        return delivery.status if delivery else None


def _wait_for(condition: Callable[[], bool], serve: ServeProcess, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s:\n{serve.logs}")


def test_port_in_use_exits_1_with_a_clear_message(
    ctx: Context, tokens: Tokens, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        serve = ServeProcess(log_path=tmp_path / "serve.log", port=taken.getsockname()[1])
        try:
            code = serve.process.wait(30)
            logs = serve.logs
        finally:
            serve.close()
    assert code == 1
    assert "cannot listen" in logs
