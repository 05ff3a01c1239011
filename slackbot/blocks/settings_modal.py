"""`/mailbell settings`: the tenant's notification settings as a modal, and what its state holds.

The modal is rebuilt whole when the test button reports (`views.update`), with what the user
typed as initial values; block and action ids stay the same so Slack keeps the inputs as well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.channels.slack.blocks import truncate
from core.vocabulary import MAX_RECIPIENTS
from slackbot.blocks.common import Block, context, divider, section

CALLBACK_ID = "mailbell_settings"
TEST_ACTION = "mailbell_settings_test"
RECIPIENT_PREFIX = "recipient_"
RECIPIENT_ACTION = "address"
EVENTS_BLOCK = "events"
EVENTS_ACTION = "enabled"
DIGEST_PREFIX = "digest_"
DIGEST_ACTION = "policy"
TEST_BLOCK = "test"
TEST_RESULT_BLOCK = "test_result"
EMPTY_LINES = 3  # room to add addresses without a second form
TITLE_MAX = 24  # Slack's limit for a modal's title
OPTION_TEXT_MAX = 75  # Slack's limit for a checkbox's text and description
ERROR_MAX = 2000
TEST_HINT = (
    "The test email goes to the first recipient above, as typed (saved or not), through the "
    "tenant's mail server."
)


@dataclass(frozen=True)
class EventChoice:
    """One tenant toggle as a checkbox."""

    field: str  # notify_queue_call_lost (the option's value)
    label: str  # When a queue call is lost
    short: str  # queue_call_lost
    on: bool


@dataclass(frozen=True)
class DigestChoice:
    """One digest event's policy input."""

    event: str  # QUEUE_CALL_LOST
    short: str  # queue_call_lost
    policy: str  # 3/10m, off, or what the user typed


@dataclass(frozen=True)
class ModalInput:
    """What the modal holds: its state where Slack sent one, else what it was opened with."""

    recipients: list[tuple[str, str]]  # (block_id, address as typed, stripped) in line order
    enabled: list[str] | None  # the checked toggles (option values); None: no events block
    digests: dict[str, str] = field(default_factory=dict)  # event name → policy as typed

    def first_recipient(self) -> str | None:
        return next((address for _, address in self.recipients if address), None)


def recipient_block(n: int) -> str:
    return f"{RECIPIENT_PREFIX}{n}"


def digest_block(event: str) -> str:
    return f"{DIGEST_PREFIX}{event}"


def metadata(*, channel_id: str, tenant_id: int, tenant: str) -> str:
    """Context for the submit (where to announce, which tenant); authorization never trusts it."""
    return json.dumps({"channel": channel_id, "tenant_id": tenant_id, "tenant": tenant})


@dataclass(frozen=True)
class Opened:
    """Where the modal was opened: context only, never proof of any right."""

    channel_id: str
    tenant_id: int
    tenant: str  # the slug, for the title


def read_metadata(view: Mapping[str, Any]) -> Opened | None:
    """Where a view this module built was opened; None when it is not one."""
    try:
        data = json.loads(str(view.get("private_metadata") or ""))
        return Opened(str(data["channel"]), int(data["tenant_id"]), str(data.get("tenant") or ""))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _recipient_input(n: int, address: str) -> Block:
    element: Block = {"type": "email_text_input", "action_id": RECIPIENT_ACTION}
    if address:
        element["initial_value"] = address
    return {
        "type": "input",
        "block_id": recipient_block(n),
        "optional": True,
        "label": {"type": "plain_text", "text": f"Recipient {n + 1}"},
        "element": element,
    }


def _option(choice: EventChoice) -> Block:
    return {
        "text": {"type": "plain_text", "text": truncate(choice.label, OPTION_TEXT_MAX)},
        "description": {"type": "plain_text", "text": truncate(choice.short, OPTION_TEXT_MAX)},
        "value": choice.field,
    }


def _events_input(events: Sequence[EventChoice]) -> Block:
    element: Block = {
        "type": "checkboxes",
        "action_id": EVENTS_ACTION,
        "options": [_option(choice) for choice in events],
    }
    on = [_option(choice) for choice in events if choice.on]
    if on:  # Slack refuses an empty list
        element["initial_options"] = on
    return {
        "type": "input",
        "block_id": EVENTS_BLOCK,
        "optional": True,
        "label": {"type": "plain_text", "text": "Events emailed to the recipients"},
        "element": element,
    }


def _digest_input(choice: DigestChoice) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": DIGEST_ACTION,
        "placeholder": {"type": "plain_text", "text": "e.g. 5/10m, or off"},
        "max_length": 40,
    }
    if choice.policy:
        element["initial_value"] = choice.policy
    return {
        "type": "input",
        "block_id": digest_block(choice.event),
        "optional": True,
        "label": {"type": "plain_text", "text": f"Digest of {choice.short}"},
        "element": element,
    }


def settings_modal(
    *,
    tenant: str,
    tenant_id: int,
    channel_id: str,
    recipients: Sequence[str],
    events: Sequence[EventChoice],
    digests: Sequence[DigestChoice],
    lines: int | None = None,
    test_result: str | None = None,
) -> dict[str, Any]:
    """The modal. `recipients` fill the address lines in order ("" leaves one empty); there are
    `lines` of them (default: the addresses and EMPTY_LINES more), never more than
    MAX_RECIPIENTS. `test_result` replaces the test button's hint."""
    count = len(recipients) + EMPTY_LINES if lines is None else max(lines, len(recipients))
    count = max(1, min(count, MAX_RECIPIENTS))
    addresses = [*recipients, *([""] * count)][:count]
    blocks: list[Block] = [
        section("*Recipients* — who gets the events below by email. Empty lines are ignored."),
        *(_recipient_input(n, address) for n, address in enumerate(addresses)),
        divider(),
        _events_input(events),
        divider(),
        section("*Digests* — how bursts of an event are folded into one email."),
        context(
            "`AFTER/WINDOW` (`5/10m`: the first 5 events of 10 minutes go one by one, the rest "
            "in one digest when the window closes; windows in `s`, `m` or `h`), or `off`: every "
            "event on its own. An emptied field keeps its policy."
        ),
        *(_digest_input(choice) for choice in digests),
        divider(),
        {
            "type": "actions",
            "block_id": TEST_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": TEST_ACTION,
                    "text": {"type": "plain_text", "text": "Send test email"},
                    "value": "test",
                }
            ],
        },
        {**context(test_result or TEST_HINT), "block_id": TEST_RESULT_BLOCK},
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": metadata(channel_id=channel_id, tenant_id=tenant_id, tenant=tenant),
        "title": {"type": "plain_text", "text": truncate(f"mailbell · {tenant}", TITLE_MAX)},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _initial(block: Mapping[str, Any]) -> Any:
    """What an input block shows before the user touches it, as its state would hold it."""
    element = block.get("element") or {}
    if element.get("type") == "checkboxes":
        return {"selected_options": element.get("initial_options") or []}
    return {"value": element.get("initial_value")}


def read_modal(view: Mapping[str, Any]) -> ModalInput:
    """The modal's input: each block's state (`view.state.values`) or, for a block the state
    leaves out, its initial value."""
    values = (view.get("state") or {}).get("values") or {}
    recipients: list[tuple[str, str]] = []
    enabled: list[str] | None = None
    digests: dict[str, str] = {}
    for block in view.get("blocks") or []:
        block_id = str(block.get("block_id") or "")
        if block.get("type") != "input" or not block_id:
            continue
        action_id = (block.get("element") or {}).get("action_id", "")
        state = (values.get(block_id) or {}).get(action_id)
        if not isinstance(state, Mapping):
            state = _initial(block)
        if block_id.startswith(RECIPIENT_PREFIX):
            recipients.append((block_id, str(state.get("value") or "").strip()))
        elif block_id == EVENTS_BLOCK:
            selected = state.get("selected_options") or []
            enabled = [str(o.get("value")) for o in selected if isinstance(o, Mapping)]
        elif block_id.startswith(DIGEST_PREFIX):
            digests[block_id.removeprefix(DIGEST_PREFIX)] = str(state.get("value") or "").strip()
    return ModalInput(recipients=recipients, enabled=enabled, digests=digests)


def error_text(message: str) -> str:
    return truncate(message, ERROR_MAX)
