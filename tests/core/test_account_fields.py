"""The email-account models: the rules every front end (the TUI form included) shares."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.models.mail import EmailAccountCreate, EmailAccountUpdate


def test_checks_and_normalises_the_given_fields() -> None:
    changes = EmailAccountUpdate.from_fields(
        {
            "email": "support@acme.example",
            "display_name": "  Support Inbox ",
            "imap_port": "993",
            "imap_tls": "false",
            "imap_password": "",
            "imap_host": "  ",
        }
    )
    assert changes.given() == {
        "email": "support@acme.example",
        "display_name": "Support Inbox",
        "imap_port": 993,
        "imap_tls": False,
        "imap_password": None,
        "imap_host": None,
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "'not-an-address' is not a valid email address"),
        ({"display_name": "   "}, "display_name", "is required: a label such as 'Support Inbox'"),
        ({"imap_port": 0}, "imap_port", "0 is out of range: use 1-65535 (0 is reserved)"),
        ({"imap_password": "x" * 1025}, "imap_password", "is 1025 characters long"),
        ({"imap_password": 5}, "imap_password", "must be a string"),
        ({"colour": "blue"}, "colour", "is not a known field; known fields: display_name, email"),
    ],
)
def test_a_broken_rule_names_its_field(data: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EmailAccountUpdate.from_fields(data)
    assert caught.value.field == field
    assert caught.value.message.startswith(message)
    assert "x" * 20 not in str(caught.value)


def test_a_new_account_needs_its_address_and_label() -> None:
    with pytest.raises(ValidationError) as caught:
        EmailAccountCreate.from_fields({"email": "a@acme.example", "imap_port": "x"})
    assert (caught.value.field, caught.value.message) == ("imap_port", "'x' is not a whole number")
    with pytest.raises(ValidationError) as caught:
        EmailAccountCreate.from_fields({"email": "a@acme.example"})
    assert (caught.value.field, caught.value.message) == ("display_name", "is required")
