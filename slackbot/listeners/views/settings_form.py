"""What the `/mailbell settings` modal changes: its choices, each field checked with the core's
rules (the problem keyed by the block that shows it), and the sentence that announces a save."""

from __future__ import annotations

from typing import Any

from core import validation as v
from core.catalog import EVENTS
from core.digest_policy import digest_events, event_of_setting, parse_policy, setting_name
from core.errors import ValidationError
from core.models.tenancy import NotificationSettingsRead, NotificationSettingsUpdate
from core.services.slack import short_name, toggled_tenant_events
from core.services.slack_digest import policy_words
from core.vocabulary import TENANT_TOGGLE_LABELS
from slackbot.blocks.common import escape
from slackbot.blocks.settings_modal import (
    EVENTS_BLOCK,
    DigestChoice,
    EventChoice,
    ModalInput,
    digest_block,
    recipient_block,
)


def event_choices(on: set[str]) -> list[EventChoice]:
    return [
        EventChoice(e.toggle, TENANT_TOGGLE_LABELS[e.toggle], short_name(e), e.toggle in on)
        for e in toggled_tenant_events()
        if e.toggle
    ]


def digest_choices(policies: dict[str, str]) -> list[DigestChoice]:
    return [
        DigestChoice(name, short_name(EVENTS[name]), policies.get(name, ""))
        for name in digest_events(system=False)
    ]


def _digest_value(typed: str) -> str:
    """`5/10m`, `5 10m` (as `/mailbell digest` takes it) or `off`."""
    words = typed.split()
    return policy_words(words) if 1 <= len(words) <= 2 else typed


def block_of(field: str, form: ModalInput) -> tuple[str, str]:
    """Where a refusal of `field` is shown, and the field as the user reads it there."""
    event = event_of_setting(field)
    if event is not None:
        return digest_block(event), f"digest of {short_name(EVENTS[event])}"
    if field in TENANT_TOGGLE_LABELS:
        return EVENTS_BLOCK, field.removeprefix("notify_")
    first = form.recipients[0][0] if form.recipients else recipient_block(0)
    return first, "recipients" if field == "recipients" else field


def changes_of(
    form: ModalInput, current: NotificationSettingsRead
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the form changes (setting name → value), and each block's problem by its id."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    addresses = []
    for block_id, typed in form.recipients:
        try:
            if typed:
                addresses.append(v.email_address("recipients", typed))
        except ValidationError as exc:
            errors[block_id] = exc.message
    if not errors:
        try:
            wanted = v.recipients("recipients", addresses)  # duplicates folded, at most 15
            if wanted != current.recipients:
                changes["recipients"] = wanted
        except ValidationError as exc:
            errors[block_of("recipients", form)[0]] = exc.message
    if form.enabled is not None:
        fields = [e.toggle for e in toggled_tenant_events() if e.toggle]
        unknown = [name for name in form.enabled if name not in fields]
        if unknown:
            errors[EVENTS_BLOCK] = f"{unknown[0]} is not an event of a tenant"
        for name in fields:
            if (name in form.enabled) != current.toggles[name]:
                changes[name] = name in form.enabled
    for event in digest_events(system=False):
        typed = form.digests.get(event, "")
        if not typed:
            continue  # an emptied field keeps its policy
        key = setting_name(event)
        try:
            parsed = NotificationSettingsUpdate.parse({key: _digest_value(typed)}, system=False)
        except ValidationError as exc:
            errors[digest_block(event)] = exc.message
            continue
        # compared as shown, as `/mailbell digest` does: the default is stored only when set
        if parse_policy(key, parsed.digest_changes()[event]).shown() != current.digests[event]:
            changes[key] = _digest_value(typed)
    return changes, errors


def announcement(
    who: str, before: NotificationSettingsRead, after: NotificationSettingsRead
) -> str | None:
    """What the channel is told, in the words of the single-purpose commands; None when the
    save changed nothing anyone would read."""
    parts = []
    added = [a for a in after.recipients if a not in before.recipients]
    removed = [a for a in before.recipients if a not in after.recipients]
    if added:
        parts.append(f"added {', '.join(escape(a) for a in added)} to the recipients")
    if removed:
        parts.append(f"removed {', '.join(escape(a) for a in removed)} from the recipients")
    if not added and not removed and after.recipients != before.recipients:
        parts.append("reordered the recipients")
    for verb, on in (("enabled", True), ("disabled", False)):
        names = [
            name.removeprefix("notify_")
            for name, value in after.toggles.items()
            if value == on and before.toggles.get(name) != on
        ]
        if names:
            parts.append(f"{verb} {', '.join(names)}")
    for event, policy in after.digests.items():
        if before.digests.get(event) != policy:
            short = short_name(EVENTS[event])
            parts.append(
                f"turned digests of {short} off"
                if policy == "off"
                else f"set the digest of {short} to {policy}"
            )
    return f"{who} {', '.join(parts)} (settings form)" if parts else None
