"""Addresses on reserved domains (`.local`, `.test`, …) are valid: internal relays deliver them.

Every front end (CLI, API, Slack, TUI) checks addresses with core/validation.py, so accepting them
there accepts them everywhere; a syntactically invalid address is still refused (issue #18).
"""

from __future__ import annotations

import pytest

from core.addresses import reserved_domain
from core.errors import ValidationError
from core.senders import SenderRuleError, split_from_template
from core.validation import email_address, mailbox, recipients


@pytest.mark.parametrize(
    ("given", "kept", "reserved"),
    [
        ("ops@example.local", "ops@example.local", "local"),
        ("Ops@Relay.Corp.TEST", "Ops@relay.corp.test", "test"),
        ("noc@mail.invalid", "noc@mail.invalid", "invalid"),
        ("alerts@acme.example", "alerts@acme.example", None),
    ],
)
def test_a_reserved_domain_is_accepted_and_named(given: str, kept: str, reserved: str) -> None:
    assert email_address("to", given) == kept
    assert reserved_domain(given) == reserved


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("ops@@example.local", "invalid characters"),
        ("o ps@example.local", "invalid characters before the @-sign"),
        ("ops@-relay.local", "hyphen"),
        ("ops@localhost", "should have a period"),
        ("example.local", "must have an @-sign"),
    ],
)
def test_a_syntactically_invalid_address_is_still_refused(given: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        email_address("to", given)
    assert caught.value.field == "to"
    assert "is not a valid email address" in str(caught.value)
    assert words in str(caught.value)


def test_senders_and_lists_follow_the_same_rule() -> None:
    assert mailbox("mail_from", "Ops <ops@relay.local>") == "Ops <ops@relay.local>"
    assert recipients("recipients", "a@x.local, b@y.test") == ["a@x.local", "b@y.test"]
    assert split_from_template("{{ tenant }} <alerts@relay.local>").address == "alerts@relay.local"
    with pytest.raises(SenderRuleError, match="not a valid From address"):
        split_from_template("{{ tenant }} <alerts@@relay.local>")
