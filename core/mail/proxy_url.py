"""A mail server's proxy as written: `socks5://[user:pass@]host:port`, `socks5h://…` or
`http://…` (HTTP CONNECT). Standard library only: the models check input with it.

The URL given on input may carry the password; what is stored and shown is the URL without
it (`ProxyUrl.url`), the password apart and encrypted (core/services/mail_server_fields.py).
No message here ever contains the password: a refused value is shown with it masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from core.errors import ValidationError
from core.vocabulary import PORT_MAX, PORT_MIN, SECRET_MAX_LENGTH

# socks5: mailbell resolves the SMTP host and gives the proxy an address; socks5h and http:
# the proxy resolves the name (unless the server is fenced: see core/mail/proxy.py).
PROXY_SCHEMES = ("socks5", "socks5h", "http")
PROXY_URL_MAX = 2048
# RFC 1929: the SOCKS5 user name and password are one length byte each.
SOCKS_CREDENTIAL_MAX_BYTES = 255
EXAMPLE = "socks5://user:password@proxy.example.com:1080 or http://proxy.example.com:3128"

_USERINFO = re.compile(r"(//[^/@]*?):[^/@]*@")


def masked(text: str) -> str:
    """`text` with any `user:password@` shown as `user:***@`."""
    return _USERINFO.sub(r"\1:***@", text)


@dataclass(frozen=True)
class ProxyUrl:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The URL without the password: what is stored, shown and named in messages."""
        return self._format(None)

    def with_secret(self) -> str:
        """The URL with the password (input only: never stored, logged or shown)."""
        return self._format(self.password)

    def with_password(self, password: str | None) -> ProxyUrl:
        return replace(self, password=password)

    @property
    def socks(self) -> bool:
        return self.scheme.startswith("socks5")

    def _format(self, password: str | None) -> str:
        user = ""
        if self.username:
            user = quote(self.username, safe="")
            if password:
                user += ":" + quote(password, safe="")
            user += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"


def parse_proxy(field_name: str, value: Any) -> ProxyUrl:
    """`value` as a proxy URL, or ValidationError naming `field_name` and the rule."""
    if not isinstance(value, str):
        raise ValidationError(field_name, f"must be a URL such as {EXAMPLE}")
    text = value.strip()
    shown = masked(text)
    if len(text) > PROXY_URL_MAX:
        raise ValidationError(
            field_name, f"is {len(text)} characters long; at most {PROXY_URL_MAX} are allowed"
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise ValidationError(field_name, f"{shown!r} is not a URL: spaces are not allowed")
    if "://" not in text:
        raise ValidationError(
            field_name, f"{shown!r} has no scheme: write it as a URL, e.g. {EXAMPLE}"
        )
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValidationError(field_name, f"{shown!r} is not a URL: e.g. {EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ValidationError(
            field_name,
            f"{shown!r} has scheme {scheme!r}: use socks5://, socks5h:// or http:// "
            "(an HTTP proxy that takes CONNECT)",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(
            field_name, f"{shown!r} has a path or query: give only scheme://[user:pass@]host:port"
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError(field_name, f"{shown!r} has no host: e.g. {EXAMPLE}")
    if len(host) > 255:
        raise ValidationError(field_name, "the host is longer than 255 characters")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        raise ValidationError(field_name, f"{shown!r} has no port: add it, e.g. {EXAMPLE}")
    if not PORT_MIN <= port <= PORT_MAX:
        raise ValidationError(
            field_name, f"{shown!r} has an invalid port: use {PORT_MIN}-{PORT_MAX}"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if password and not username:
        raise ValidationError(field_name, "has a password but no user name: user:password@host")
    _check_credentials(field_name, scheme, username, password)
    return ProxyUrl(scheme, host.lower(), port, username, password)


def _check_credentials(
    field_name: str, scheme: str, username: str | None, password: str | None
) -> None:
    if password is not None and len(password) > SECRET_MAX_LENGTH:
        raise ValidationError(
            field_name, f"the password is longer than {SECRET_MAX_LENGTH} characters"
        )
    if not scheme.startswith("socks5"):
        return
    for what, text in (("user name", username), ("password", password)):
        if text is not None and len(text.encode("utf-8")) > SOCKS_CREDENTIAL_MAX_BYTES:
            raise ValidationError(
                field_name,
                f"the {what} is longer than {SOCKS_CREDENTIAL_MAX_BYTES} bytes, "
                "the most SOCKS5 can carry",
            )


def proxy_rule(field_name: str, value: Any) -> str:
    """The model rule: the URL checked and written in one form (the password still in it:
    the service takes it out before anything is stored)."""
    return parse_proxy(field_name, value).with_secret()


def proxy_host(value: Any) -> str | None:
    """The host of a proxy URL as given, or None when it is not one (the rule says why)."""
    try:
        return parse_proxy("proxy", value).host
    except ValidationError:
        return None
