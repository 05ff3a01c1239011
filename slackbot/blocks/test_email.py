"""How a test email's outcome reads in Slack, for `/mailbell test` and the settings form."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slackbot.blocks.common import escape

if TYPE_CHECKING:
    from core.services.mail_tests import TestEmailResult

SUBJECT = "mailbell test email"


def test_email_line(to: str, result: TestEmailResult) -> str:
    """Accepted, with the server's reply; or the step that failed, with its reply."""
    shown = escape(to)
    if result.ok:
        reply = escape(result.reply or "accepted")
        return f":white_check_mark: Test email to {shown} accepted by the server: `{reply}`"
    step = escape(result.step or "send")
    detail = escape(result.reply or result.error or "no reply")
    return f":x: Test email to {shown} failed at step *{step}*: `{detail}`"
