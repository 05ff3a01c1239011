"""Who gets which message of an event, and what its `To:` shows (the owner's recipient mode).

An event addressed to the payload's own address (a new user's welcome, a voicemail) is one
message to that address, whatever the mode. The owner's recipients (tenant or system) get, by
`recipient_mode`:
- `to` (the default, as PortSIP does): one message, every recipient in `To:`, one delivery;
- `bcc`: one message and one delivery; `To:` is the empty group `undisclosed-recipients:;`
  (RFC 5322 §3.6.3) and the recipients are only in the SMTP envelope. Not the From address:
  that would show the sender as a recipient, and "reply all" would write to a mailbox that may
  not take mail;
- `individual`: one delivery per recipient, each with its own message (`To:` that recipient,
  its own Message-ID), outcome and retries.
Both private modes keep every recipient's address out of every other recipient's copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.catalog import Event
from core.mail.headers import UNDISCLOSED_RECIPIENTS
from core.vocabulary import RecipientMode


@dataclass(frozen=True, slots=True)
class Group:
    """The recipients of one delivery, and whether they are the owner's list (the mode
    applies) or the payload's own address."""

    recipients: list[str]
    owner_list: bool


def payload_address(event: Event, payload: Any) -> str | None:
    """The payload's own address when the event goes there instead of the owner's list."""
    email = getattr(payload, "email", None)
    if event.audience == "payload_email":
        return str(email)
    if event.audience == "payload_email_or_tenant_recipients" and email:
        return str(email)
    return None


def recipient_groups(event: Event, payload: Any, recipients: list[str], mode: str) -> list[Group]:
    """One group per delivery: the payload's address alone, or the owner's list (split per
    recipient in `individual` mode)."""
    own = payload_address(event, payload)
    if own is not None:
        return [Group([own], owner_list=False)]
    if mode == RecipientMode.INDIVIDUAL and recipients:
        return [Group([address], owner_list=True) for address in recipients]
    return [Group(list(recipients), owner_list=True)]


def header_to(recipients: list[str], mode: str, *, owner_list: bool = True) -> tuple[str, ...]:
    """What `To:` shows for a message whose envelope goes to `recipients`.

    A copy with several recipients in `individual` mode (a delivery written before the mode
    changed, rendered again on retry) hides them as `bcc` would."""
    if not owner_list or mode == RecipientMode.TO:
        return tuple(recipients)
    if mode == RecipientMode.INDIVIDUAL and len(recipients) == 1:
        return tuple(recipients)
    return (UNDISCLOSED_RECIPIENTS,)
