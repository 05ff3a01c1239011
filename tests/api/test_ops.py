"""Health, metrics, the OpenAPI document, and the error middleware's promises."""

from __future__ import annotations

import logging
import re

import pytest
import yaml

from api.app import create_api_app
from core import metrics
from core.context import Context
from core.errors import PermanentError, RetryableError
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient, smtp_settings
from tests.support.smtp_servers import SmtpTestServer

OPENAPI = "/api/openapi.yaml"


async def test_healthz(api: ApiClient) -> None:
    answer = await api.get("/healthz", token=None)
    assert answer.status == 200
    # no worker runs in this test: still a 200 (a load balancer routes by it), with the count
    assert answer.body == {"status": "ok", "database": "ok", "workers": 0}


def test_every_route_is_documented(ctx: Context) -> None:
    from api.routes.ops import OPENAPI_PATH

    spec = yaml.safe_load(OPENAPI_PATH.read_text())
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    app = create_api_app(ctx)
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert registered - documented == set(), "routes missing from openapi.yaml"
    assert documented - registered == set(), "documented routes that do not exist"


async def test_openapi_is_served(api: ApiClient) -> None:
    answer = await api.get(OPENAPI, token=None)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(answer.text)["openapi"].startswith("3.")


async def test_openapi_json_is_the_yaml_document_without_a_token(api: ApiClient) -> None:
    as_yaml = await api.get(OPENAPI, token=None)
    answer = await api.get("/api/openapi.json", token=None)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.body == yaml.safe_load(as_yaml.text)
    assert "/api/openapi.json" in answer.body["paths"]


async def test_unknown_route_and_method_answer_json(api: ApiClient) -> None:
    missing = await api.get("/api/nothing-here")
    assert missing.status == 404
    assert "no such endpoint" in missing.body["error"]
    wrong = await api.request("PUT", "/api/tenant/notification", json_body={})
    assert wrong.status == 405
    assert "POST" in wrong.headers["Allow"]
    assert wrong.body["error"]


async def test_internal_error_is_500_with_request_id_and_no_trace(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode() -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr("api.routes.templates.list_default_templates", explode)
    with caplog.at_level(logging.ERROR, logger="mailbell.api"):
        answer = await api.get("/api/default_email_templates")
    assert answer.status == 500
    assert answer.body["error"] == "internal error"
    request_id = answer.body["request_id"]
    assert answer.headers["X-Request-Id"] == request_id
    assert "boom" not in answer.text and "Traceback" not in answer.text
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and logged[0].exc_info is not None


async def test_request_id_is_echoed_when_safe(api: ApiClient) -> None:
    answer = await api.get("/healthz", token=None, headers={"X-Request-Id": "abc-123"})
    assert answer.headers["X-Request-Id"] == "abc-123"
    odd = await api.get("/healthz", token=None, headers={"X-Request-Id": "a b\tc"})
    assert odd.headers["X-Request-Id"] != "a b\tc"


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        if metric.split("{")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', metric))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"{name} {labels} not in metrics")


async def test_metrics_report_the_outbox_without_tenant_names_or_addresses(
    api: ApiClient, smtp_server: SmtpTestServer
) -> None:
    settings = smtp_settings(
        smtp_server, recipients="ops@acme.example", notify_queue_call_lost=True
    )
    assert (await api.post("/api/tenant/notification", settings)).status == 200
    for _ in range(3):
        answer = await api.post(
            "/api/events", {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
        )
        assert answer.status == 202
    scraped = await api.get("/metrics", token=None)
    assert scraped.status == 200
    assert scraped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = scraped.text
    assert _sample(text, "mailbell_deliveries", status="queued", channel="email") == 3
    assert _sample(text, "mailbell_deliveries", status="sent", channel="email") == 0
    assert _sample(text, "mailbell_queue_depth") == 3
    assert _sample(text, "mailbell_queue_due") == 3
    assert _sample(text, "mailbell_queue_oldest_due_age_seconds") >= 0
    assert (
        _sample(
            text, "mailbell_http_requests_total", method="POST", route="/api/events", status="202"
        )
        >= 3
    )
    for secret in ("acme", "Acme", "@", "Sales", "globex"):
        assert secret not in text, secret


def test_observe_send_counts_latency_and_error_classes() -> None:
    channel = "email-test"
    with metrics.observe_send(channel):
        pass
    for error in (
        RetryableError("timed out after 5 s during DATA", step="data"),
        PermanentError("refused", step="rcpt", code=550, reply="550 no"),
        RetryableError("refused", step="mail", code=451, reply="451 later"),
        RetryableError("connection refused by x", step="connect"),
        PermanentError("TLS certificate not trusted", step="tls"),
        PermanentError("auth failed", step="auth", code=None),
    ):
        with pytest.raises(type(error)), metrics.observe_send(channel):
            raise error
    assert metrics.SENDS.value(channel, "ok") == 1
    assert metrics.SENDS.value(channel, "error") == 6
    assert metrics.SEND_LATENCY.count(channel) == 7
    for kind in ("timeout", "smtp_5xx", "smtp_4xx", "connection", "tls", "auth"):
        assert metrics.SEND_ERRORS.value(channel, kind) == 1, kind
    text = metrics.render()
    assert f'mailbell_send_duration_seconds_bucket{{channel="{channel}",le="+Inf"}} 7' in text
    assert f'mailbell_send_errors_total{{channel="{channel}",class="smtp_5xx"}} 1' in text


def test_mount_slack_does_nothing_without_a_bot_token(ctx: Context) -> None:
    from mailbell.serve import mount_slack

    app = create_api_app(ctx)
    assert mount_slack(app, ctx) is False
    assert "/slack/events" not in {r.resource.canonical for r in app.router.routes() if r.resource}


async def test_mount_slack_adds_the_events_endpoint_outside_token_auth(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from mailbell.serve import mount_slack

    monkeypatch.setattr(ctx.settings, "slack_bot_token", "xoxb-test")
    monkeypatch.setattr(ctx.settings, "slack_signing_secret", "shh")
    app = create_api_app(ctx)
    assert mount_slack(app, ctx) is True
    async with TestClient(TestServer(app)) as client:
        # no bearer token needed; bolt itself refuses an unsigned request
        response = await client.post("/slack/events", data=b"command=%2Fmailbell&text=help")
        assert response.status == 401


async def test_healthz_is_503_when_the_database_does_not_answer(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def down(_session: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))

    monkeypatch.setattr(metrics, "check_database", down)
    answer = await api.get("/healthz", token=None)
    assert answer.status == 503
    assert answer.body["status"] == "unavailable"
    assert "unable to open" not in answer.text  # no internals (paths, hosts) in the answer
