"""The headers every message mailbell sends carries, so it stays out of loops and can be filtered.

- `Auto-Submitted: auto-generated` (RFC 3834): the message is automatic, not a reply; vacation
  responders, ticket systems and list servers that follow the RFC do not answer it.
- `X-Auto-Response-Suppress: All`: the same request to Microsoft Exchange and Outlook, which
  read this header rather than RFC 3834's for out-of-office replies, read receipts and the like.
- `List-Id` (RFC 2919): which owner and event the message is about, so recipients can file or
  filter it (Gmail's `list:`, Sieve's `header :contains "list-id"`, Outlook rules). The
  identifier is `<EVENT.TENANT.mailbell.DOMAIN>` for a tenant's mail and
  `<EVENT.mailbell.DOMAIN>` for the system's: EVENT is the event name in lower case with
  hyphens (`queue-call-lost`), TENANT the tenant's slug, DOMAIN the From address's domain, which
  the sender controls, as RFC 2919 asks of the identifier's namespace. It names only the owner
  the recipient already receives mail for: no address, no secret, nothing of another tenant.

No `List-Unsubscribe` (there is no list to leave: recipients are settings) and no `Precedence`
(RFC 3834 §3.1.8: not a standard; Auto-Submitted is what replaces it).
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache

AUTO_SUBMITTED = "auto-generated"
AUTO_RESPONSE_SUPPRESS = "All"
# RFC 5322 §3.6.3 / A.1.3: the To of a message whose recipients are all hidden, as an empty group.
UNDISCLOSED_RECIPIENTS = "undisclosed-recipients:;"
# The event label of a test email (not an event of the catalogue).
TEST_EMAIL = "TEST_EMAIL"

LIST_ID_MAX = 255  # RFC 2919 §2: the identifier, angle brackets excluded
LABEL = "mailbell"


@lru_cache(maxsize=256)
def message_domain(address: str) -> str:
    """The domain of a sender address, as Message-IDs use it (IDNA; `mailbell.invalid` when
    the address has none)."""
    domain = parseaddr(address)[1].rpartition("@")[2].strip().rstrip(">") or "mailbell.invalid"
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = "mailbell.invalid"
    return domain


def _label(value: str) -> str:
    """An event name or slug as a DNS-like label: lower case, hyphens."""
    return value.strip().lower().replace("_", "-")


def list_identifier(event: str, tenant: str | None, domain: str) -> str:
    """`EVENT[.TENANT].mailbell.DOMAIN`; past RFC 2919's 255 characters, the namespace becomes
    `localhost` (the RFC's namespace for identifiers without a domain)."""
    labels = [_label(event), *([_label(tenant)] if tenant else []), LABEL]
    identifier = ".".join([*labels, domain.lower()])
    if len(identifier) > LIST_ID_MAX:
        identifier = ".".join([*labels, "localhost"])
    return identifier


def list_id(event: str, tenant: str | None, domain: str) -> str:
    """The `List-Id` value: a short description, then the identifier in angle brackets.

    `tenant` is the owner's slug, None for the system. The description is atoms only (event
    names and slugs are letters, digits, `_` and `-`), so it needs no quoting or encoding."""
    description = f"{LABEL} {event}" + (f" {tenant}" if tenant else "")
    return f"{description} <{list_identifier(event, tenant, domain)}>"


def automatic_headers(list_id_value: str | None) -> list[tuple[str, str]]:
    """The headers of every message, in the order they are written."""
    headers = [
        ("Auto-Submitted", AUTO_SUBMITTED),
        ("X-Auto-Response-Suppress", AUTO_RESPONSE_SUPPRESS),
    ]
    if list_id_value:
        headers.append(("List-Id", list_id_value))
    return headers
