"""`POST /api/events` with files: a voicemail's recording as base64 or as a URL fetched from a
local HTTP server, through the real API app, the Worker and an aiosmtpd sink."""

from __future__ import annotations

import base64
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from sqlmodel import select

from core.catalog import sample
from core.context import Context
from core.models.delivery import Delivery, EventRecord
from core.pipeline.worker import Worker
from tests.api.conftest import ApiClient, smtp_settings
from tests.support.attachment_site import AttachmentSite, wav_bytes
from tests.support.smtp_servers import SmtpTestServer

EVENTS = "/api/events"
SETTINGS = "/api/tenant/notification"
LOCAL = "127.0.0.0/8,::1/128"


def voicemail(**recording: Any) -> dict[str, Any]:
    data = {k: v for k, v in sample("VOICEMAIL_RECEIVED").items() if not k.startswith("recording")}
    data["email"] = "bob@acme.example"
    return {"event": "VOICEMAIL_RECEIVED", "data": {**data, "recording": recording}}


@pytest.fixture
async def configured(api: ApiClient, smtp_server: SmtpTestServer) -> ApiClient:
    answer = await api.post(SETTINGS, smtp_settings(smtp_server, recipients="ops@acme.example"))
    assert answer.status == 200, answer.body
    return api


async def delivered(ctx: Context, smtp_server: SmtpTestServer) -> EmailMessage:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()
    [received] = smtp_server.messages
    message = BytesParser(policy=policy.default).parsebytes(received.data)
    assert isinstance(message, EmailMessage)
    return message


def files(message: EmailMessage) -> list[tuple[str, str | None, bytes]]:
    return [
        (part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


def counts(ctx: Context) -> tuple[int, int]:
    with ctx.session() as session:
        return len(session.exec(select(EventRecord)).all()), len(
            session.exec(select(Delivery)).all()
        )


async def test_a_recording_over_1_mib_arrives_byte_for_byte(
    configured: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    content = wav_bytes(seconds=150)  # 1.2 MB: its base64 alone is over the usual 1 MiB body
    body = voicemail(data=base64.b64encode(content).decode(), filename="msg-4711.wav")
    assert len(json.dumps(body)) > 1024 * 1024
    answer = await configured.post(EVENTS, body)
    assert answer.status == 202, answer.body
    message = await delivered(ctx, smtp_server)
    assert files(message) == [("audio/wav", "msg-4711.wav", content)]
    with ctx.session() as session:
        row = session.get(EventRecord, answer.body["event_id"])
        assert row is not None and "data" not in row.payload["recording"]
        assert row.payload["recording"]["size"] == len(content)


async def test_other_routes_keep_the_1_mib_limit(configured: ApiClient) -> None:
    big = {"recipients": "ops@acme.example", "padding": "x" * (1024 * 1024 + 10)}
    answer = await configured.post(SETTINGS, big)
    assert answer.status == 413
    assert "(1 MiB)" in answer.body["error"]


async def test_events_body_limit_follows_the_attachment_limit(
    configured: ApiClient, ctx: Context
) -> None:
    ctx.settings.attachment_max_bytes = 3000  # events bodies: 4000 bytes + 1 MiB
    answer = await configured.post(EVENTS, voicemail(data="A" * (1024 * 1024 + 5000)))
    assert answer.status == 413
    assert "at most 1052576" in answer.body["error"]
    assert "MAILBELL_ATTACHMENT_MAX_BYTES" in answer.body["error"]
    assert counts(ctx) == (0, 0)


async def test_oversize_attachment_is_400_naming_it_and_queues_nothing(
    configured: ApiClient, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBELL_ATTACHMENT_MAX_BYTES", "2048")
    content = base64.b64encode(wav_bytes()).decode()
    answer = await configured.post(EVENTS, voicemail(data=content))
    assert answer.status == 400
    assert answer.body["field"] == "data"
    assert "'recording'" in answer.body["error"]
    assert "the limit is 2048 bytes (MAILBELL_ATTACHMENT_MAX_BYTES)" in answer.body["error"]
    assert counts(ctx) == (0, 0)


async def test_url_fetched_and_attached(
    configured: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    async with AttachmentSite() as site:
        answer = await configured.post(EVENTS, voicemail(url=site.url("/rec.wav?sig=abc")))
        assert answer.status == 202, answer.body
        assert site.hits["/rec.wav"] == 1
    message = await delivered(ctx, smtp_server)
    assert files(message) == [("audio/wav", "voicemail-1012.wav", site.recording)]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.wav", "the server answered 404"),
        ("/big.wav", "it is larger than the limit of 65536 bytes (MAILBELL_ATTACHMENT_MAX_BYTES)"),
    ],
)
async def test_failed_fetch_sends_the_mail_without_the_file_saying_why(
    configured: ApiClient,
    ctx: Context,
    smtp_server: SmtpTestServer,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    reason: str,
) -> None:
    monkeypatch.setenv("MAILBELL_ATTACHMENT_MAX_BYTES", str(64 * 1024))
    async with AttachmentSite(big_bytes=1024 * 1024) as site:
        answer = await configured.post(EVENTS, voicemail(url=site.url(path)))
        assert answer.status == 202, answer.body
    message = await delivered(ctx, smtp_server)
    assert files(message) == []
    assert f"The recording could not be attached: {reason}" in text(message)
    with ctx.session() as session:
        row = session.get(EventRecord, answer.body["event_id"])
        assert row is not None and row.payload["recording"] is None
        assert reason in row.payload["recording_error"]


async def test_slow_server_times_out_and_the_mail_says_why(
    configured: ApiClient,
    ctx: Context,
    smtp_server: SmtpTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waits on the fetch timeout (0.3 s): listed in tests/support/xdist_groups.py."""
    monkeypatch.setenv("MAILBELL_ATTACHMENT_FETCH_TIMEOUT_S", "0.3")
    async with AttachmentSite(slow_s=10) as site:
        answer = await configured.post(EVENTS, voicemail(url=site.url("/slow.wav")))
        assert answer.status == 202, answer.body
    message = await delivered(ctx, smtp_server)
    assert files(message) == []
    assert "The recording could not be attached: no complete answer within 0.3 s" in text(message)


async def test_tenant_token_url_is_fenced(
    configured: ApiClient,
    ctx: Context,
    smtp_server: SmtpTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with AttachmentSite() as site:
        monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "10.0.0.0/8")
        tenant = await configured.post(EVENTS, voicemail(url=site.url("/rec.wav")))
        assert tenant.status == 202, tenant.body
        assert site.hits["/rec.wav"] == 0  # not even asked
        # A system token acting on the tenant is the operator: not fenced.
        system = await configured.post(
            EVENTS + "?tenant=acme", voicemail(url=site.url("/rec.wav")), token="system"
        )
        assert system.status == 202, system.body
        assert site.hits["/rec.wav"] == 1
        monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", LOCAL)  # the tenant's own SMTP server
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()
    by_files = {
        len(files(m)): m
        for m in (
            BytesParser(policy=policy.default).parsebytes(r.data) for r in smtp_server.messages
        )
    }
    assert isinstance(by_files[0], EmailMessage) and isinstance(by_files[1], EmailMessage)
    assert "is not one mailbell may reach for a tenant (MAILBELL_TENANT_SMTP_NETWORKS)" in text(
        by_files[0]
    )
    assert files(by_files[1]) == [("audio/wav", "voicemail-1012.wav", site.recording)]


async def test_unauthorised_request_fetches_nothing(configured: ApiClient) -> None:
    async with AttachmentSite() as site:
        answer = await configured.post(
            EVENTS, voicemail(url=site.url("/rec.wav")), token="not-a-token"
        )
        assert answer.status == 401
        assert site.hits["/rec.wav"] == 0
