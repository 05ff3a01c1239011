"""Core's messages in the TUI's words: the form's label for a field, the label of a choice, and
the page and key for what a message tells a CLI user to run.

Core speaks to every front end alike (field names, enum values, CLI commands); the TUI shows
what its forms and pages say (`rate_limit_per_minute` → "Rate / min", `auth is AUTO` → "Auth is
Auto", `mailbell accounts edit 1 --imap-host HOST` → "Accounts (6) → e → IMAP host").
`mailbell serve` stays: starting the service is no page of the TUI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

# The labels the TUI's forms give core's fields (server form, account form, settings page); a
# test holds them to the forms' own labels.
FIELD_LABELS: Mapping[str, str] = {
    # mail server form
    "provider": "Provider",
    "name": "Name",
    "host": "Host",
    "port": "Port",
    "security": "Security",
    "auth": "Auth",
    "username": "Username",
    "password": "Password",
    "mail_from": "From",
    "reply_to": "Reply-to",
    "timeout": "Timeout (s)",
    "rate_limit_per_minute": "Rate / min",
    "tls_verify": "Verify TLS",
    "ca_file": "CA file",
    "proxy": "Proxy",
    "proxy_password": "Proxy passwd",
    "is_default": "Default",
    "oauth_client_id": "Client id",
    "oauth_client_secret": "Client secret",
    "oauth_directory_id": "Directory id",
    # email account form
    "email": "Email",
    "display_name": "Display name",
    "mail_server_id": "Mail server",
    "imap_host": "IMAP host",
    "imap_port": "IMAP port",
    "imap_username": "Username",
    "imap_password": "Password",
    "imap_tls": "Use TLS/SSL",
    "imap_folder": "Folder",
    # settings page, test email
    "recipients": "Emails of recipients",
    "recipient": "Recipient",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


def _choice_labels() -> dict[str, Mapping[str, str]]:
    from core.vocabulary import AUTH_LABELS, PROVIDER_LABELS, SECURITY_LABELS

    return {
        "auth": {str(k): v for k, v in AUTH_LABELS.items()},
        "security": {str(k): v for k, v in SECURITY_LABELS.items()},
        "provider": {str(k): v for k, v in PROVIDER_LABELS.items()},
    }


def choice_label(field: str, value: str) -> str:
    """The label a form's drop-down shows for a choice (`GMAIL` → "Gmail")."""
    return _choice_labels().get(field, {}).get(str(value), str(value))


def page_ref(mode: str) -> str:
    from tui.widgets.nav import PAGES

    page = next(p for p in PAGES if p.mode == mode)
    return f"{page.label} ({page.key})"


def _account_field(args: str) -> str:
    if "--imap-host" in args:
        return " → IMAP host"
    if "--imap-password" in args:
        return " → Password"
    return ""


# `mailbell <command> <args>` → where in the TUI; the first pattern matching the command wins.
_DIRECTIONS: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = (
    (r"server add\b", lambda m: f"{page_ref('servers')} → a"),
    (
        r"server edit\b.*--password",
        lambda m: f"{page_ref('servers')} → e → {FIELD_LABELS['password']}",
    ),
    (r"server edit\b", lambda m: f"{page_ref('servers')} → e"),
    (r"server test\b", lambda m: f"{page_ref('servers')} → t"),
    (r"oauth authorize\b", lambda m: f"{page_ref('servers')} → e → Authorize"),
    (r"accounts add\b", lambda m: f"{page_ref('accounts')} → a"),
    (r"tenants? list\b", lambda m: page_ref("tenants")),
    (r"accounts edit\b.*", lambda m: f"{page_ref('accounts')} → e{_account_field(m.group(0))}"),
    (r"accounts sync\b", lambda m: f"{page_ref('accounts')} → s"),
    (
        r"deliveries list\b(?:.*--status (\w+))?",
        lambda m: page_ref("deliveries") + (f", Status {m.group(1)}" if m.group(1) else ""),
    ),
    (r"slack unlink\b", lambda m: f"{page_ref('slack')} → u"),
    (r"slack admin add\b", lambda m: f"{page_ref('slack')} → a"),
    (r"health check\b", lambda m: f"{page_ref('health')} → c"),
    (r"health\b", lambda m: f"the Health page ({page_ref('health').split('(')[1]}"),
)
# A command in backticks, in parentheses, or after a colon up to a closing parenthesis or the end.
_COMMAND = re.compile(r"`mailbell ([^`]+)`|\(mailbell ([^)]+)\)|(?<=: )mailbell ([^)]+?)(?=\)|$)")
# "auth is AUTO", "set auth to DISABLE", "auth XOAUTH2" (a bare value only in capitals).
_CHOICE = re.compile(r"\b(auth|security|provider) (?:(is|to) ([\w-]+)|([A-Z][A-Z0-9_]+)\b)")
# Core's names with an underscore are never words: each becomes its label.
_NAMES = {**FIELD_LABELS, "apply_to_all_tenants": '"Apply mail settings to all tenants"'}
_NAME = re.compile(r"\b(" + "|".join(n for n in _NAMES if "_" in n) + r")\b")


def _direction(match: re.Match[str]) -> str:
    ticked, bracketed, trailing = match.groups()
    command = ticked or bracketed or trailing
    for pattern, where in _DIRECTIONS:
        found = re.match(pattern, command)
        if found:
            return f"({where(found)})" if bracketed else where(found)
    return match.group(0)  # `mailbell serve` and the like: no page does it


def for_tui(text: str) -> str:
    """`text` from core, in the TUI's words."""
    labels = _choice_labels()

    def choice(match: re.Match[str]) -> str:
        field, verb, value, bare = match.groups()
        label = labels[field].get(value or bare)
        if label is None:
            return match.group(0)
        return f"{FIELD_LABELS[field]} {verb + ' ' if verb else ''}{label}"

    text = _COMMAND.sub(_direction, text)
    text = _CHOICE.sub(choice, text)
    return _NAME.sub(lambda match: _NAMES[match.group(1)], text)


def refusal(field: str | None, message: str) -> str:
    """A refusal as one line: the field's label (as its form shows it), then the rule."""
    message = for_tui(message)
    return f"{field_label(field)}: {message}" if field else message


def reserved_note(addresses: list[str]) -> str | None:
    """A warning for addresses on reserved domains (`.local`, `.test`…): valid, and delivered
    only by an internal relay that knows them. None when there are none."""
    from core.addresses import reserved_domain

    domains = sorted({a.rpartition("@")[2] for a in addresses if reserved_domain(a)})
    if not domains:
        return None
    names = ", ".join(domains)
    if len(domains) == 1:
        return f"{names} is a reserved domain: mail to it only works through an internal relay"
    return f"{names} are reserved domains: mail to them only works through an internal relay"
