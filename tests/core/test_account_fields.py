"""`clean_account_fields`: the account rules every front end (the TUI form included) shares."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.services.accounts import clean_account_fields


def test_cleans_and_normalises_the_given_fields() -> None:
    cleaned = clean_account_fields(
        {
            "email": "support@acme.example",
            "display_name": "  Support Inbox ",
            "imap_port": "993",
            "imap_tls": "false",
            "imap_password": "",
            "imap_host": "  ",
        }
    )
    assert cleaned == {
        "email": "support@acme.example",
        "display_name": "Support Inbox",
        "imap_port": 993,
        "imap_tls": False,
        "imap_password": None,
        "imap_host": None,
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"display_name": "   "}, "display_name"),
        ({"imap_port": 0}, "imap_port"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_broken_rule_names_its_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean_account_fields(data)
    assert caught.value.field == field
