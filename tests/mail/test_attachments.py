"""File attachments end to end: a voicemail's recording and a call report's file, given as base64
or fetched from a URL, through emit and the real Worker to an aiosmtpd sink; the message size
limit; the Slack mirror naming the files; the event row and webhooks never carrying the bytes."""

from __future__ import annotations

import asyncio
import base64
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from sqlmodel import select

from core.attachments import attachments_for
from core.attachments.fetch import fetch_payload_files, shown_url
from core.attachments.model import file_size_text
from core.catalog import get_event, sample
from core.catalog_payloads import AttachedFile, VoicemailReceivedPayload
from core.errors import ValidationError
from core.models.delivery import Delivery, EventRecord
from core.pipeline.contents import message_of
from core.pipeline.worker import Worker
from tests.support.attachment_site import AttachmentSite, wav_bytes
from tests.support.factories import emit_event, make_configured_tenant, make_webhook
from tests.support.slack_health import route_channel
from tests.support.webhook_receiver import WebhookReceiver

VOICEMAIL = "VOICEMAIL_RECEIVED"
REPORT = "CALL_REPORT_COMPLETED"


def voicemail(**recording: Any) -> dict[str, Any]:
    data = {k: v for k, v in sample(VOICEMAIL).items() if not k.startswith("recording")}
    data["email"] = "bob@acme.org"
    if recording:
        data["recording"] = recording
    return data


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


async def drain(ctx: Any) -> None:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def files_of(message: EmailMessage) -> list[tuple[str, str | None, bytes]]:
    return [
        (part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]


def plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


# ---- the payload's rules ----------------------------------------------------------------


def test_recording_keeps_its_bytes_and_never_dumps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    content = wav_bytes()
    payload = get_event(VOICEMAIL).validate(voicemail(data=b64(content)))
    assert isinstance(payload, VoicemailReceivedPayload) and payload.recording is not None
    assert payload.recording.content == content
    assert payload.recording.filename == "voicemail-1012.wav"  # defaults: name from the mailbox
    assert payload.recording.content_type == "audio/wav"  # sniffed from the bytes
    dumped = payload.model_dump(mode="json")
    assert dumped["recording"] == {
        "filename": "voicemail-1012.wav",
        "content_type": "audio/wav",
        "url": None,
        "size": len(content),
    }
    assert b64(content)[:40] not in payload.model_dump_json()
    assert "data=" not in repr(payload.recording)
    # A stored copy validates again (a later re-render), without its bytes: no file then.
    again = get_event(VOICEMAIL).validate(json.loads(payload.model_dump_json()))
    assert again.recording.size == len(content) and again.recording.content is None
    assert attachments_for(VOICEMAIL, again, mail_from="") == ()


def test_names_and_types_are_checked() -> None:
    spec = get_event(VOICEMAIL)
    payload = spec.validate(voicemail(data=b64(b"ID3" + bytes(40)), filename="C:\\calls\\m.mp3"))
    assert (payload.recording.filename, payload.recording.content_type) == ("m.mp3", "audio/mpeg")
    cases = {
        "must be base64": voicemail(data="not base64 at all!"),
        "give either data or url": voicemail(data=b64(b"RIFF"), url="https://x.example/a.wav"),
        "give the file as data (base64) or a url": voicemail(filename="a.wav"),
        "control characters": voicemail(data=b64(wav_bytes()), filename="a\nb.wav"),
        "content_type text/plain is not accepted here": voicemail(
            data=b64(b"hello"), content_type="text/plain"
        ),
        "neither the name nor the file say it": voicemail(data=b64(b"hello")),
        "Extra inputs are not permitted": voicemail(data=b64(wav_bytes()), path="/etc/passwd"),
    }
    for expected, data in cases.items():
        with pytest.raises(ValidationError) as caught:
            spec.validate(data)
        assert caught.value.field == "data"
        assert "'recording" in caught.value.message and expected in caught.value.message


def test_report_file_data_only_any_type_but_html() -> None:
    spec = get_event(REPORT)
    base = {k: v for k, v in sample(REPORT).items() if k != "report_file"}
    pdf = spec.validate(
        {**base, "report_file": {"data": b64(b"%PDF-1.4"), "content_type": "application/pdf"}}
    )
    assert pdf.report_file.filename == "Queue performance — October.pdf"
    for file, expected in (
        ({"url": "https://pbx.example.com/r.csv"}, "a url is not fetched"),
        ({"data": b64(b"<p>x</p>"), "content_type": "text/html"}, "any type but text/html"),
    ):
        with pytest.raises(ValidationError) as caught:
            spec.validate({**base, "report_file": file})
        assert "report_file" in caught.value.message and expected in caught.value.message


def test_oversize_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBELL_ATTACHMENT_MAX_BYTES", "1000")
    with pytest.raises(ValidationError) as caught:
        get_event(VOICEMAIL).validate(voicemail(data=b64(wav_bytes())))
    assert "variable 'recording': the file is 4044 bytes" in caught.value.message
    assert "the limit is 1000 bytes (MAILBELL_ATTACHMENT_MAX_BYTES)" in caught.value.message
    # Its length alone refuses it: no decoding of what cannot be base64 anyway.
    with pytest.raises(ValidationError, match="the limit is 1000 bytes"):
        get_event(VOICEMAIL).validate(voicemail(data="%" * 4000))
    assert AttachedFile.model_validate({"data": b64(bytes(1000))}).size == 1000


def test_slack_size_words() -> None:
    sizes = (844, 34 * 1024, 3 * 1024 * 1024)
    assert [file_size_text(n) for n in sizes] == ["844 bytes", "34.0 KB", "3.0 MB"]


# ---- delivered through SMTP ----------------------------------------------------------------


@pytest.fixture
def acme_smtp(ctx: Any, session: Any, smtp_server: Any) -> Any:
    return make_configured_tenant(session, ctx.box, smtp=smtp_server, server={"name": "t"})


async def test_recording_and_report_arrive_as_attachments(
    ctx: Any, session: Any, acme_smtp: Any, smtp_server: Any
) -> None:
    content = wav_bytes()
    emit_event(session, ctx.box, acme_smtp, VOICEMAIL, voicemail(data=b64(content)))
    emit_event(session, ctx.box, acme_smtp, REPORT, get_event(REPORT).sample)
    await drain(ctx)
    by_type = {files_of(m)[0][0]: m for m in (parsed(r.data) for r in smtp_server.messages)}
    assert files_of(by_type["audio/wav"]) == [("audio/wav", "voicemail-1012.wav", content)]
    assert by_type["audio/wav"].get_content_type() == "multipart/mixed"
    [(kind, name, report)] = files_of(by_type["text/csv"])
    assert (kind, name) == ("text/csv", "queue-performance-october.csv")
    assert report.startswith(b"queue,total_calls")


async def test_message_over_the_size_limit_fails_its_delivery(
    ctx: Any, session: Any, acme_smtp: Any, smtp_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBELL_MESSAGE_MAX_BYTES", "4096")
    result = emit_event(session, ctx.box, acme_smtp, VOICEMAIL, voicemail(data=b64(wav_bytes())))
    [delivery] = [d for d in result.deliveries if d.channel == "email"]
    assert delivery.status == "failed"
    assert delivery.last_error is not None
    assert "bytes with its attachments; the limit is 4096 (MAILBELL_MESSAGE_MAX_BYTES)" in (
        delivery.last_error
    )
    await drain(ctx)
    assert smtp_server.messages == []


async def test_event_row_webhook_and_slack_never_carry_the_bytes(
    ctx: Any, session: Any, acme_smtp: Any, smtp_server: Any
) -> None:
    content = wav_bytes()
    encoded = b64(content)
    route_channel(ctx, "acme", "C0VOICE", events=("voicemail_received",))
    async with WebhookReceiver() as receiver:
        make_webhook(session, ctx.box, acme_smtp, receiver.url("/hook"))
        result = emit_event(session, ctx.box, acme_smtp, VOICEMAIL, voicemail(data=b64(content)))
        slack = [d for d in result.deliveries if d.channel == "slack"]
        assert len(slack) == 1
        with ctx.session() as fresh:
            row = fresh.get(EventRecord, result.event_id)
            assert row is not None
            assert row.payload["recording"]["size"] == len(content)
            assert encoded[:64] not in json.dumps(row.payload)
            assert row.payload_enc is not None
            assert encoded[:64].encode() not in ctx.box.decrypt_bytes(row.payload_enc)
            stored = ctx.box.decrypt_bytes(message_of(fresh, slack[0].id))
        mirror = json.loads(stored)
        assert encoded[:64] not in stored.decode()
        lines = [
            element["text"]
            for block in mirror["blocks"]
            if block["type"] == "context"
            for element in block["elements"]
        ]
        assert f"📎 voicemail-1012.wav (audio/wav, {file_size_text(len(content))})" in lines
        assert "Recording" not in json.dumps(mirror)  # no field dumping the file's dict
        await drain(ctx)
        await receiver.wait_for(lambda: len(receiver.received("/hook")) == 1)
        [post] = receiver.received("/hook")
        assert encoded[:64].encode() not in post.body
        assert post.json["data"]["recording"]["size"] == len(content)
    [mail] = smtp_server.messages
    assert files_of(parsed(mail.data))[0][2] == content


# ---- fetched from a URL ----------------------------------------------------------------------


async def test_fetch_rules_against_a_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBELL_ATTACHMENT_MAX_BYTES", str(64 * 1024))
    async with AttachmentSite(big_bytes=4 * 1024 * 1024) as site:

        async def fetched(path: str, *, fenced: bool = False, **extra: Any) -> dict[str, Any]:
            data = voicemail(url=site.url(path), **extra)
            return await fetch_payload_files(VOICEMAIL, data, fenced=fenced)

        ok = await fetched("/rec.wav?token=s3cret-token")
        assert base64.b64decode(ok["recording"]["data"]) == site.recording
        assert ok["recording"]["content_type"] == "audio/wav" and "url" not in ok["recording"]
        assert "recording_error" not in ok
        assert site.queries == ["token=s3cret-token"]
        three = await fetched("/redirect/3")
        assert base64.b64decode(three["recording"]["data"]) == site.recording
        reasons = {
            "/redirect/4": "more than 3 redirects",
            "/missing.wav": "the server answered 404",
            "/page": "the server sent text/html, not a WAV or MP3 recording",
            "/big.wav": "larger than the limit of 65536 bytes (MAILBELL_ATTACHMENT_MAX_BYTES)",
            "/declared-big.wav": "larger than the limit of 65536 bytes",
        }
        for path, reason in reasons.items():
            failed = await fetched(path)
            assert "recording" not in failed, path
            assert failed["recording_error"]
            assert reason in failed["recording_error"], (path, failed["recording_error"])
        # The big stream was cut as soon as it went over, not read to its end.
        assert site.big_sent < 1024 * 1024
        # A given type is kept (validation checks it); the payload's own name too.
        named = await fetched("/rec.wav", filename="msg.wav", content_type="audio/x-wav")
        assert named["recording"]["content_type"] == "audio/x-wav"
        assert named["recording"]["filename"] == "msg.wav"
    assert shown_url("https://h.example/a.wav?token=x#f") == "https://h.example/a.wav"


async def test_fenced_fetch_refuses_hosts_outside_the_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "10.0.0.0/8")
    async with AttachmentSite() as site:
        for host in ("127.0.0.1", "localhost"):
            data = voicemail(url=site.url("/rec.wav", host=host))
            fenced = await fetch_payload_files(VOICEMAIL, data, fenced=True)
            assert "recording" not in fenced
            assert "is not one mailbell may reach for a tenant" in fenced["recording_error"]
            assert "MAILBELL_TENANT_SMTP_NETWORKS" in fenced["recording_error"]
        assert site.hits["/rec.wav"] == 0
        # The system's own caller (the CLI) is not fenced.
        data = voicemail(url=site.url("/rec.wav"))
        unfenced = await fetch_payload_files(VOICEMAIL, data, fenced=False)
        assert base64.b64decode(unfenced["recording"]["data"]) == site.recording


async def test_fetch_of_a_slow_server_gives_up_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits on the fetch timeout (0.3 s): listed in tests/support/xdist_groups.py."""
    monkeypatch.setenv("MAILBELL_ATTACHMENT_FETCH_TIMEOUT_S", "0.3")
    async with AttachmentSite(slow_s=10) as site:
        started = asyncio.get_running_loop().time()
        data = voicemail(url=site.url("/slow.wav"))
        failed = await fetch_payload_files(VOICEMAIL, data, fenced=False)
        elapsed = asyncio.get_running_loop().time() - started
    assert failed["recording_error"] == ("no complete answer within 0.3 s")
    assert elapsed < 3


async def test_cli_emit_fetches_the_recording(
    ctx: Any, session: Any, acme_smtp: Any, smtp_server: Any, cli: Any
) -> None:
    async with AttachmentSite() as site:
        data = voicemail(url=site.url("/rec.wav"))
        result = await asyncio.to_thread(
            cli, "emit", VOICEMAIL, "--tenant", "acme", "--data", json.dumps(data)
        )
        assert result.code == 0, result.err
        assert site.hits["/rec.wav"] == 1
    await drain(ctx)
    [mail] = smtp_server.messages
    assert files_of(parsed(mail.data)) == [("audio/wav", "voicemail-1012.wav", site.recording)]
    with ctx.session() as fresh:
        [row] = fresh.exec(select(Delivery).where(Delivery.channel == "email")).all()
        assert row.status == "sent"
