"""A rendered From is exactly one mailbox: payload data fills only a quoted display name, the
address comes from the template's literal text or the server, and anything else fails."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest

from core import catalog
from core.errors import PermanentError, ValidationError
from core.mail.mime import serialize
from core.rendering import RenderedMessage, TemplateSource, default_template, render
from core.senders import (
    SenderRuleError,
    check_headers,
    compose_from,
    envelope_sender,
    one_mailbox,
    split_from_template,
)
from core.validation import mailbox

EVIL_CALLER = '"evil@evil.example" <evil@evil.example>, Bob'
INJECTED_FROM = "{{ caller }} <pbx@acme.example>"
SERVER_FROM = "Alerts <alerts@server.example>"


def _template(mail_from: str) -> TemplateSource:
    default = default_template("QUEUE_CALL_LOST")
    return TemplateSource("QUEUE_CALL_LOST", mail_from, default.subject, default.body, custom=True)


def _payload(**changes: object) -> dict[str, object]:
    return {**catalog.sample("QUEUE_CALL_LOST"), **changes}


def _from_header(raw: bytes) -> Any:  # an AddressHeader
    return message_from_bytes(raw, policy=default_policy)["From"]


def test_caller_injection_gives_one_quoted_mailbox_and_the_literal_envelope() -> None:
    rendered = render(
        "QUEUE_CALL_LOST",
        _payload(caller=EVIL_CALLER),
        template=_template(INJECTED_FROM),
        to=["ops@acme.example"],
        server_from=SERVER_FROM,
    )
    header = _from_header(serialize(rendered))
    assert len(header.addresses) == 1
    [address] = header.addresses
    assert address.display_name == EVIL_CALLER
    assert address.addr_spec == "pbx@acme.example"
    assert rendered.mail_from.startswith('"')  # formataddr quoted the name
    assert envelope_sender(rendered.mail_from) == "pbx@acme.example"
    parsed = rendered.to_email_message()["From"]
    assert [a.addr_spec for a in parsed.addresses] == ["pbx@acme.example"]


def test_a_display_name_only_from_takes_the_server_address() -> None:
    rendered = render(
        "QUEUE_CALL_LOST",
        _payload(caller="x@evil.example, y@evil.example"),
        template=_template("{{ caller }} alerts"),
        server_from=SERVER_FROM,
    )
    assert one_mailbox("From", rendered.mail_from) == (
        "x@evil.example, y@evil.example alerts",
        "alerts@server.example",
    )
    assert envelope_sender(rendered.mail_from) == "alerts@server.example"


def test_literal_from_and_empty_from_are_kept_as_written() -> None:
    literal = render("QUEUE_CALL_LOST", _payload(), template=_template('"Acme, PBX" <pbx@a.org>'))
    assert one_mailbox("From", literal.mail_from) == ("Acme, PBX", "pbx@a.org")
    server = render("QUEUE_CALL_LOST", _payload(), server_from=SERVER_FROM)
    assert server.mail_from == SERVER_FROM
    quoted = render(
        "QUEUE_CALL_LOST", _payload(), template=_template('"{{ queue_name }}" <pbx@a.org>')
    )
    assert one_mailbox("From", quoted.mail_from) == ("Sales", "pbx@a.org")


@pytest.mark.parametrize(
    "source",
    [
        "{{ caller }}@acme.example",
        "Alerts <{{ caller }}>",
        "Alerts <pbx@{{ queue_name }}.example>",
        "{{ caller }} <pbx@acme.example>{{ queue_name }}@x.example",
    ],
)
def test_template_syntax_in_the_address_is_refused(source: str) -> None:
    with pytest.raises(SenderRuleError, match="literal"):
        split_from_template(source)
    # At emit (a template stored before the rule): the delivery fails, payload never chooses.
    with pytest.raises(PermanentError, match="literal"):
        render("QUEUE_CALL_LOST", _payload(), template=_template(source), server_from=SERVER_FROM)


@pytest.mark.parametrize(
    "server_from",
    ["a@x.org, b@y.org", "a@x.org;b@y.org", "team: a@x.org, b@y.org;", "a@x.org b@y.org"],
)
def test_a_from_of_several_mailboxes_fails_the_render_with_a_reason(server_from: str) -> None:
    with pytest.raises(PermanentError) as error:
        render("QUEUE_CALL_LOST", _payload(), server_from=server_from)
    assert error.value.message.startswith("From ")
    assert "mailbox" in error.value.message


def test_a_reply_to_list_fails_the_render() -> None:
    with pytest.raises(PermanentError, match="Reply-To has 2 mailboxes"):
        render(
            "QUEUE_CALL_LOST",
            _payload(),
            server_from=SERVER_FROM,
            reply_to="a@x.org, b@y.org",
        )


def test_a_built_message_is_checked_too() -> None:
    good = render("QUEUE_CALL_LOST", _payload(), server_from=SERVER_FROM)
    two = RenderedMessage(**{**good.__dict__, "mail_from": "a@x.org, b@y.org"})
    with pytest.raises(SenderRuleError, match="From has 2 mailboxes"):
        two.to_email_message()
    check_headers(good.mail_from, "Ops <ops@x.org>", "pbx@x.org")
    with pytest.raises(SenderRuleError, match="Sender"):
        check_headers(good.mail_from, None, "a@x.org, b@y.org")


def test_the_reason_never_quotes_the_rendered_header() -> None:
    # A display name can carry payload values (a password in USER_CREATION): never echo them.
    with pytest.raises(SenderRuleError) as error:
        one_mailbox("From", "s3cret-value <a@x.org>, b@y.org")
    assert "s3cret" not in str(error.value)


def test_an_encoded_word_in_a_display_name_is_shown_as_typed() -> None:
    trick = "=?utf-8?q?boss=40acme.example_=3Cboss=40acme.example=3E?="
    composed = compose_from("{{ caller }} <pbx@acme.example>", "", lambda _: trick)
    assert composed.startswith("=?utf-8?b?")  # the whole name encoded: decodes to the text
    assert one_mailbox("From", composed) == (trick, "pbx@acme.example")


def test_no_address_at_all_is_a_from_error() -> None:
    with pytest.raises(ValidationError) as error:
        render("QUEUE_CALL_LOST", _payload(), template=_template("{{ queue_name }} alerts"))
    assert error.value.field == "from"


@pytest.mark.parametrize(
    "value", ["a@x.org, b@y.org", "a@x.org;b@y.org", "Ops <a@x.org>, b@y.org", "team: a@x.org;"]
)
@pytest.mark.parametrize("field", ["reply_to", "mail_from"])
def test_mailbox_settings_refuse_address_lists(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as error:
        mailbox(field, value)
    assert error.value.field == field
    assert "exactly one mailbox" in error.value.message


def test_mailbox_settings_accept_one_mailbox() -> None:
    assert mailbox("reply_to", "Ops <ops@x.org>") == "Ops <ops@x.org>"
    assert mailbox("reply_to", " ops@x.org ") == "ops@x.org"
    assert mailbox("mail_from", '"Acme, Inc." <pbx@acme.org>') == '"Acme, Inc." <pbx@acme.org>'


def test_shipped_default_froms_pass_the_rule() -> None:
    for name in catalog.NAMES:
        template = default_template(name)
        parts = split_from_template(template.mail_from)
        assert parts.address == "" or "{" not in parts.address, name
        rendered = render(name, catalog.sample(name), server_from=SERVER_FROM)
        check_headers(rendered.mail_from)
