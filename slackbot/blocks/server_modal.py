"""The `/mailbell server` modal: a tenant's default mail server as a form, and what its
"Test connection" found. Pure functions: no database, no Slack.

Every input's block_id is the field it edits, so a submit's errors (`response_action: errors`)
name the block the core's rule is about. The password input is never given a value: an empty
one keeps the stored password. A re-drawn form (the test's result, a preset) keeps the same
block and action ids, so Slack keeps what the user typed, the password included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.vocabulary import (
    AUTH_LABELS,
    PORT_MAX,
    PORT_MIN,
    PROVIDER_LABELS,
    SECURITY_LABELS,
    AuthMode,
    Provider,
    SecurityMode,
    connection_step_label,
)
from slackbot.blocks.common import Block, context, escape, section

CALLBACK_ID = "mailbell_server"
TEST_ACTION = "mailbell_server_test"
PRESET_ACTION = "mailbell_server_preset"
TEST_RESULT = "test_result"
ACTIONS_BLOCK = "server_actions"
# The input blocks, in the form's order; each block_id is the field it edits.
FIELDS = ("preset", "host", "port", "security", "auth", "username", "password", "mail_from")
PASSWORD_HINT = "Leave empty to keep the stored password"
TEST_HINT = "Test connection tries the settings as typed; nothing is saved."
TEXT_MAX = 2900  # a section's text is at most 3,000 characters


@dataclass(frozen=True)
class ServerForm:
    """What the form shows: a saved server's values or what the user typed (never a password)."""

    provider: str = Provider.SMTP
    host: str = ""
    port: int | str | None = 587
    security: str = SecurityMode.STARTTLS
    auth: str = AuthMode.AUTO
    username: str = ""
    mail_from: str = ""
    has_password: bool = False


@dataclass(frozen=True)
class Target:
    """Which form this is: the channel it was opened in, the tenant, the server it edits (None:
    the tenant has none yet; saving creates its default). Kept in `private_metadata`, which
    names things only: whoever submits is authorized again."""

    channel_id: str
    tenant_id: int
    server_id: int | None
    # Bumped when a preset re-fills fields: new action ids make Slack show the new values.
    version: int = 0

    def metadata(self) -> str:
        data = {"channel": self.channel_id, "tenant": self.tenant_id, "server": self.server_id}
        return json.dumps({**data, "v": self.version} if self.version else data)

    @classmethod
    def parse(cls, text: str | None) -> Target | None:
        """The target of a view's `private_metadata`; None when it is not one of ours."""
        try:
            data = json.loads(text or "")
            server = data.get("server")
            return cls(
                channel_id=str(data["channel"]),
                tenant_id=int(data["tenant"]),
                server_id=None if server is None else int(server),
                version=int(data.get("v", 0)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


class Step(Protocol):
    """A step of a connection test (core.mail.connection_report.StepResult has these)."""

    step: str
    ok: bool
    detail: str
    reply: str | None
    hint: str | None


@dataclass(frozen=True)
class TestResult:
    """What the test_result block says: the steps so far, a closing line, or a single note."""

    __test__ = False  # not a pytest class

    steps: Sequence[Step] = ()
    summary: str = ""
    note: str = ""  # "Testing…", a refusal, a field to fix first


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value}


def _select(action_id: str, labels: Mapping[Any, str], current: str) -> dict[str, Any]:
    options = [_option(str(value), label) for value, label in labels.items()]
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options}
    chosen = next((o for o in options if o["value"] == current), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _text_input(action_id: str, value: str, placeholder: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id}
    if value:
        element["initial_value"] = value
    if placeholder:
        element["placeholder"] = _text(placeholder)
    return element


def _input(
    field: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> Block:
    block: Block = {"type": "input", "block_id": field, "label": _text(label), "element": element}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = _text(hint)
    return block


def step_line(step: Step) -> str:
    """`✓ *EHLO* — detail`; a failed step adds the server's reply and what to do."""
    name = connection_step_label(step.step)
    line = f"{'✓' if step.ok else '✗'} *{name}* — {escape(step.detail)}"
    if not step.ok and step.reply and step.reply not in step.detail:
        line += f"\n      reply: `{escape(step.reply)}`"
    if not step.ok and step.hint:
        line += f"\n      ↳ {escape(step.hint)}"
    return line


def result_text(result: TestResult) -> str:
    lines = [step_line(step) for step in result.steps]
    if result.summary:
        lines.append(escape(result.summary))
    if result.note:
        lines.append(result.note)
    text = "\n".join(lines)
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def server_modal(
    *,
    target: Target,
    tenant_slug: str,
    form: ServerForm,
    test: TestResult | None = None,
) -> dict[str, Any]:
    """The modal (callback_id `mailbell_server`), filled with `form`; `test` fills the
    test_result block."""
    v = f".{target.version}" if target.version else ""
    port = "" if form.port in (None, "") else str(form.port)
    what = "its default mail server" if target.server_id else "no mail server yet: Save adds one"
    port_input = {
        "type": "number_input",
        "action_id": f"port{v}",
        "is_decimal_allowed": False,
        "min_value": str(PORT_MIN),
        "max_value": str(PORT_MAX),
    }
    if port:
        port_input["initial_value"] = port
    preset = _select(PRESET_ACTION, PROVIDER_LABELS, form.provider)
    security = _select(f"security{v}", SECURITY_LABELS, form.security)
    blocks: list[Block] = [
        context(f"Tenant *{escape(tenant_slug)}*: {what}."),
        {
            **_input("preset", "Preset", preset, hint="Choosing one fills host, port, security"),
            "dispatch_action": True,
        },
        _input("host", "Host", _text_input(f"host{v}", form.host, "smtp.example.com")),
        _input("port", "Port", port_input),
        _input("security", "Security", security),
        _input("auth", "Authentication", _select("auth", AUTH_LABELS, form.auth)),
        _input("username", "Username", _text_input(f"username{v}", form.username), optional=True),
        _input(
            "password",
            "Password",
            _text_input("password", ""),  # never pre-filled
            optional=True,
            hint=PASSWORD_HINT if form.has_password else "No password is stored",
        ),
        _input(
            "mail_from",
            "From (sender)",
            _text_input("mail_from", form.mail_from, "Alerts <alerts@example.com>"),
            optional=True,
            hint="Empty: the username, when it is an address",
        ),
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": TEST_ACTION,
                    "text": _text("Test connection"),
                    "value": "test",
                }
            ],
        },
    ]
    text = result_text(test) if test is not None else ""
    result = section(text) if text else context(TEST_HINT)
    blocks.append({**result, "block_id": TEST_RESULT})
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": target.metadata(),
        "title": _text("Mail server"),
        "submit": _text("Save"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def typed_values(state: Mapping[str, Any] | None) -> dict[str, str | None]:
    """What the user typed, by field, from a view's `state` (`{"values": {block: {action:
    element}}}`): text as given (None when empty), a select's chosen value."""
    values = (state or {}).get("values") or {}
    typed: dict[str, str | None] = {}
    for field in FIELDS:
        elements = values.get(field) or {}
        element = next(iter(elements.values()), None) if elements else None
        if not isinstance(element, dict):
            typed[field] = None
            continue
        option = element.get("selected_option")
        value = option.get("value") if isinstance(option, dict) else element.get("value")
        typed[field] = value if isinstance(value, str) and value != "" else None
    return typed


def form_of(typed: Mapping[str, str | None], *, has_password: bool) -> ServerForm:
    """The form re-drawn with what was typed (the password stays with Slack's client)."""
    return ServerForm(
        provider=typed.get("preset") or Provider.SMTP,
        host=typed.get("host") or "",
        port=typed.get("port") or "",
        security=typed.get("security") or "",
        auth=typed.get("auth") or "",
        username=typed.get("username") or "",
        mail_from=typed.get("mail_from") or "",
        has_password=has_password,
    )
