"""The one error handler: a short message for the user, the details in the log only.

Expected failures (`MailbellError`: bad input, unknown names, refused changes) are answered as
they are; anything else becomes "something went wrong" with a reference to the log line. No
stack trace, request body or token ever reaches Slack; the log gets the exception without the
request body (which carries Slack's verification token).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

from core.errors import MailbellError, ValidationError

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.response import BoltResponse

log = logging.getLogger("slackbot")


def user_message(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return f":warning: {error.field}: {error.message}"
    if isinstance(error, MailbellError):
        return f":warning: {error}"
    slack_error = _slack_api_error(error)
    if slack_error is not None:
        hint = (
            " Invite the bot to this channel (`/invite @mailbell`)."
            if slack_error
            in (
                "not_in_channel",
                "channel_not_found",
            )
            else ""
        )
        return f":warning: Slack refused the request: `{slack_error}`.{hint}"
    return ""


def _slack_api_error(error: BaseException) -> str | None:
    response = getattr(error, "response", None)
    if type(error).__name__ == "SlackApiError" and response is not None:
        try:
            return str(response.get("error") or "unknown_error")
        except AttributeError:
            return "unknown_error"
    return None


def describe(error: BaseException, logger: Any = None) -> str:
    """The user-facing text; unexpected errors are logged with a reference the user sees."""
    message = user_message(error)
    if message:
        return message
    reference = secrets.token_hex(4)
    (logger or log).error(
        "slack listener failed [ref %s]: %s", reference, type(error).__name__, exc_info=error
    )
    return f":boom: Something went wrong on mailbell's side (reference `{reference}` in its log)."


async def report(error: BaseException, *, respond: Any, logger: Any = None) -> None:
    """Tell the user through `response_url` (follow-ups and actions)."""
    text = describe(error, logger)
    if respond is None:
        return
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception as exc:  # nothing left to tell the user with
        (logger or log).warning("could not report an error to Slack: %s", type(exc).__name__)


def register(app: AsyncApp) -> None:
    from slack_bolt.response import BoltResponse

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], respond: Any, logger: Any
    ) -> BoltResponse:
        if body.get("command"):  # a slash command not yet acknowledged: answer in the ack
            text = describe(error, logger)
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": text}),
                headers={"content-type": ["application/json"]},
            )
        await report(error, respond=respond if body.get("response_url") else None, logger=logger)
        return BoltResponse(status=200, body="")
