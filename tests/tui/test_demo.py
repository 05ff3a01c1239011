"""`mailbell demo`: the capture server, the demo data, the TUI delivering and showing mail."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from core.config import Settings
from core.context import build_context
from mailbell.commands import demo as demo_command
from mailbell.commands.demo import CaptureServer, seed
from tests.tui.conftest import rows, screen_text, settle
from tui.app import DemoOptions, MailbellApp


def test_capture_server_stores_messages_and_bounces(tmp_path: Path) -> None:
    server = CaptureServer(tmp_path / "captured").start()
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\n..dot\r\n")
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail("a@example.com", ["bounce@example.com"], b"Subject: no\r\n\r\nx")
        assert refused.value.recipients["bounce@example.com"][0] == 550
    finally:
        server.stop()
    (stored,) = (tmp_path / "captured").glob("*.eml")
    assert stored.read_bytes() == b"Subject: hi\r\n\r\n..dot\r\n"  # un-dot-stuffed


@pytest.fixture
def demo_app(tmp_path: Path):
    capture = CaptureServer(tmp_path / "captured").start()
    ctx = build_context(Settings(home=tmp_path / "home", database_url=None, secret_keys=None))
    seed(ctx, capture.port)
    options = DemoOptions(capture_dir=capture.folder, capture_address=f"127.0.0.1:{capture.port}")
    yield MailbellApp(ctx, tenant_slug="demo", demo=options)
    capture.stop()
    ctx.close()


async def test_demo_delivers_shows_captured_mail_and_sends_a_test_email(demo_app) -> None:
    app = demo_app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.title == "mailbell demo" and "mailbell demo" in screen_text(app)
        assert "system administrator's mail server" in screen_text(app)
        await pilot.pause(2.0)  # the in-process worker delivers the seeded events
        await pilot.press("7")
        await settle(pilot)
        statuses = {row[3]: row[2] for row in rows(app.screen.query_one("#deliveries", DataTable))}
        assert statuses == {
            "QUEUE_SLA": "sent",
            "QUEUE_CALL_LOST": "sent",
            "VOICEMAIL_RECEIVED": "failed",
        }
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        app.screen.query_one("#recipient", Input).value = "newcomer@demo.example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "✓ Sent." in screen_text(app)
        await pilot.press("escape")
        await pilot.press("C")
        await settle(pilot)
        captured = rows(app.screen.query_one("#captured", DataTable))
        assert captured[0][2] == "newcomer@demo.example"
        assert {row[3] for row in captured} >= {"mailbell test email"}
        assert len(captured) == 4  # two queue events, DISK_LOW, the test email; not the bounce


def test_the_demo_command_uses_a_throwaway_home(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_run_tui(ctx, *, tenant_slug=None, demo=None) -> None:
        seen.update(home=Path(ctx.settings.home), tenant=tenant_slug, demo=demo)
        assert (Path(ctx.settings.home) / "mailbell.db").exists()

    monkeypatch.setattr("tui.app.run_tui", fake_run_tui)
    demo_command.demo(keep=False)
    assert seen["tenant"] == "demo" and isinstance(seen["demo"], DemoOptions)
    assert not Path(str(seen["home"])).exists()  # removed on exit
