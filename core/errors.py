"""The errors every front end knows how to show.

A `MailbellError` is an expected outcome (bad input, missing thing, refused server):
front ends turn it into one line, a 4xx or an ephemeral Slack answer. Anything else is a bug.
Messages never contain a secret.
"""

from __future__ import annotations


class MailbellError(Exception):
    """Base of every expected, user-facing failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(MailbellError):
    """Input broke a rule. `field` names the top-level field (`recipients`, not `recipients[1]`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class NotFound(MailbellError):
    """The named tenant, server, account, template or delivery does not exist."""


class Conflict(MailbellError):
    """The thing exists already, or the change collides with existing state."""


class NotConfigured(MailbellError):
    """No mail server can send for this tenant (see the effective-server rule)."""


class SecretKeyError(MailbellError):
    """Secrets cannot be encrypted or decrypted with the configured key ring."""


class DeliveryError(MailbellError):
    """Sending failed; subclasses say whether trying again can help.

    `step` names where it failed (dns, connect, tls, ehlo, starttls, auth, mail, rcpt, data,
    oauth, render); `code` and `reply` carry the server's answer when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        code: int | None = None,
        reply: str | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.code = code
        self.reply = reply


class RetryableError(DeliveryError):
    """4xx replies, timeouts, connection errors: try again later."""


class PermanentError(DeliveryError):
    """5xx replies, rendering errors: trying again will not help."""
