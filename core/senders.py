"""Who a message is from: the one-mailbox rule and the composition of a template's `from`.

A template's `from` is split into a display name (template text, rendered with the payload) and
an address (the template's literal text, or the mail server's). Payload data therefore only
ever lands inside a quoted display name (`email.utils.formataddr`): it cannot add a mailbox to
From nor reach the envelope's MAIL FROM, which is always the literal or the server's address.

- `split_from_template(source)`: the two parts of a template `from`; an address part holding
  template syntax is refused (`SenderRuleError`).
- `compose_from(source, server_from, render_display)`: the From header of one message.
- `one_mailbox(header, value)`: (display name, address) of a header that must hold exactly one
  mailbox, parsed as a mail client would (`email.headerregistry`); anything else — a list, a
  group, a parse defect, no address — is `SenderRuleError`.
- `check_headers(mail_from, reply_to)`: the rule for every sender header of a message.
- `envelope_sender(mail_from)`: the MAIL FROM address of a message whose From passed the rule.
- `server_from(server)`: the From a mail server gives a message whose template names none.

`SenderRuleError` is a `PermanentError`: a message that breaks the rule fails its delivery (no
retry can change the stored template or server). Its reasons never quote the rendered header,
which may carry payload values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.charset import Charset
from email.policy import default as default_policy
from email.utils import formataddr
from functools import lru_cache
from typing import Protocol

from core.addresses import EmailNotValidError, normalized_address
from core.errors import PermanentError, ValidationError

TEMPLATE_SYNTAX = ("{{", "}}", "{%", "%}", "{#", "#}")


class SendingServer(Protocol):
    """The fields of a mail server that name its sender."""

    @property
    def mail_from(self) -> str | None: ...

    @property
    def username(self) -> str | None: ...


def server_from(server: SendingServer) -> str:
    """The From a message gets when its template gives none: the server's, else its username
    when that is an address; "" when neither."""
    if server.mail_from:
        return server.mail_from
    if server.username and "@" in server.username:
        return server.username
    return ""


class SenderRuleError(PermanentError):
    """A From, Reply-To or Sender that is not exactly one mailbox, or a `from` template whose
    address is not literal text."""

    def __init__(self, message: str) -> None:
        super().__init__(message, step="render")


def _has_template_syntax(text: str) -> bool:
    return any(marker in text for marker in TEMPLATE_SYNTAX)


@lru_cache(maxsize=1024)
def _parse_mailbox(value: str) -> tuple[str, str] | str:
    """(display name, address) or the reason the value is not exactly one mailbox."""
    header = default_policy.header_factory("From", value)
    addresses = header.addresses
    groups = header.groups
    if not addresses:
        return "has no address"
    if len(addresses) > 1:
        return f"has {len(addresses)} mailboxes; exactly one is allowed"
    if any(group.display_name is not None for group in groups):
        return "is a group; exactly one mailbox is allowed"
    if header.defects:
        return "is not exactly one mailbox: it does not parse as `Name <address>` or `address`"
    address = addresses[0]
    if not address.username or not address.domain:
        return "has no valid address (user@domain)"
    return address.display_name, address.addr_spec


def one_mailbox(header: str, value: str) -> tuple[str, str]:
    """(display name, address) of `value`, which must be exactly one mailbox."""
    if "\r" in value or "\n" in value:
        raise SenderRuleError(f"{header} must be a single line")
    parsed = _parse_mailbox(value.strip())
    if isinstance(parsed, str):
        raise SenderRuleError(f"{header} {parsed}")
    return parsed


def check_headers(mail_from: str, reply_to: str | None = None, sender: str | None = None) -> None:
    """Every sender header of a message holds exactly one mailbox (`SenderRuleError` if not)."""
    one_mailbox("From", mail_from)
    if reply_to:
        one_mailbox("Reply-To", reply_to)
    if sender:
        one_mailbox("Sender", sender)


def envelope_sender(mail_from: str) -> str:
    """The address MAIL FROM uses: the one mailbox of a From that passed the rule."""
    return one_mailbox("From", mail_from)[1]


@dataclass(frozen=True)
class FromParts:
    """A template `from`, split: `display` is template text ("" for none), `address` the literal
    address ("" means the mail server's)."""

    display: str
    address: str


@lru_cache(maxsize=512)
def split_from_template(source: str) -> FromParts:
    """The display-name template and literal address of a template `from`.

    `Name <addr>` (the last `<…>` closing the text), a bare `addr`, or only a display name
    (`{{ tenant_name }} alerts`, which takes the server's address). An address part with
    template syntax is refused: payload data must never choose the sender.
    """
    text = source.strip()
    if not text:
        return FromParts("", "")
    if text.endswith(">") and "<" in text:
        display, _, rest = text.rpartition("<")
        address = rest[:-1].strip()
        if _has_template_syntax(address):
            raise SenderRuleError(_LITERAL_ADDRESS_RULE)
        _check_literal_address(address)
        display = display.strip()
        if display and not _has_template_syntax(display):
            display = one_mailbox("From", text)[0]  # a literal name, possibly quoted: unquote it
        return FromParts(display, address)
    if "@" in text:
        if _has_template_syntax(text):
            raise SenderRuleError(_LITERAL_ADDRESS_RULE)
        _check_literal_address(text)
        return FromParts("", text)
    return FromParts(text, "")


_LITERAL_ADDRESS_RULE = (
    "the From address must be literal text, not template syntax: write "
    "`{{ variable }} <alerts@example.com>`, or only a display name to use the mail server's address"
)


def _check_literal_address(address: str) -> None:
    try:
        normalized_address(address)
    except EmailNotValidError as exc:
        raise SenderRuleError(f"{address!r} is not a valid From address: {exc}") from None


def quoted_mailbox(name: str, address: str) -> str:
    """`formataddr`; a name holding an encoded word (`=?…?=`) is itself encoded, so readers
    show it as typed instead of decoding an address of the data's choosing into the name
    (mail parsers decode encoded words even inside quotes)."""
    name = " ".join(name.split())
    if not name:
        return address
    if "=?" in name:
        return f"{Charset('utf-8').header_encode(name)} <{address}>"
    return formataddr((name, address))


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def compose_from(source: str, server_from: str, render_display: Callable[[str], str]) -> str:
    """The From header of one message: the template's display name (rendered by
    `render_display`) with the template's literal address, else the server's.

    No address anywhere is `ValidationError("from")`; a rule break is `SenderRuleError`.
    """
    parts = split_from_template(source)
    if parts.address:
        address = parts.address
    elif server_from:
        address = one_mailbox("From", server_from)[1]
        if not parts.display:
            return server_from.strip()  # passed the rule: sent as the server's settings say
    else:
        raise ValidationError(
            "from", "no From address: the template has none and the mail server has none"
        )
    name = _unquote(render_display(parts.display).strip()) if parts.display else ""
    return quoted_mailbox(name, address)


# Stands in for the mail server's address when a template is checked at save time: which
# server will send it is not known then, and the check is about the template's own parts.
SAVE_CHECK_SERVER_FROM = "server@example.com"


def check_from_template(source: str, render_display: Callable[[str], str]) -> None:
    """Save-time check of a template `from` (with one payload): the address is literal and the
    result is exactly one mailbox; a break is `ValidationError("from", rule)`."""
    try:
        check_headers(compose_from(source, SAVE_CHECK_SERVER_FROM, render_display))
    except SenderRuleError as exc:
        raise ValidationError("from", exc.message) from None
