"""What the `/mailbell server` modal's fields are called and how what was typed is read: the
core's rules, field by field, each problem on its block. Shared by the submit
(`slackbot.listeners.views.server`) and the buttons (`server_test`)."""

from __future__ import annotations

from typing import Any

from core.errors import ValidationError
from core.models.mail import MailServerUpdate

LABELS = {
    "preset": "Preset",
    "host": "Host",
    "port": "Port",
    "security": "Security",
    "auth": "Authentication",
    "username": "Username",
    "password": "Password",
    "mail_from": "From",
}
# How the channel's announcement names each changed field.
ANNOUNCED = {name: label.lower() for name, label in LABELS.items()} | {
    "provider": "preset",
    "auth": "auth",
    "mail_from": "From",
}
# The form's blocks by the core's field names; a rule on any other field is shown on `host`.
BLOCK_OF = {"provider": "preset", **{name: name for name in LABELS if name != "preset"}}
STALE = "This form is out of date: close it and run `/mailbell server` again."


def error_message(error: ValidationError) -> str:
    label = LABELS.get(BLOCK_OF.get(error.field, ""), error.field)
    return f"{label} {error.message}"[:300]


def parse(typed: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """The core's fields of what was typed that pass their rules, and an error per bad block.
    An empty password is left out: the stored one stays."""
    fields: dict[str, Any] = {"provider": typed.get("preset") or "SMTP"}
    fields |= {name: typed.get(name) for name in LABELS if name not in ("preset", "password")}
    if typed.get("password"):
        fields["password"] = typed["password"]
    good: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in fields.items():
        try:
            MailServerUpdate.from_fields({name: value})
        except ValidationError as exc:
            errors[BLOCK_OF.get(exc.field, "host")] = error_message(exc)
        else:
            good[name] = value
    return good, errors
