"""Mail server form: the choices it offers (from core.vocabulary), its secret fields, and its
fields laid out (the form around them: tui/screens/server_form.py)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static

from core.vocabulary import (
    AUTH_LABELS,
    PROVIDER_LABELS,
    SECURITY_LABELS,
    AuthMode,
    Provider,
    SecurityMode,
)
from tui.screens.form_dialog import secret_field
from tui.widgets.form import Field
from tui.widgets.toggle import Toggle

# (label, value) pairs for Select, in the order the vocabulary lists them.
PROVIDERS = [(label, str(value)) for value, label in PROVIDER_LABELS.items()]
SECURITY = [(label, str(value)) for value, label in SECURITY_LABELS.items()]
AUTH = [(label, str(value)) for value, label in AUTH_LABELS.items()]
SECRETS = ("password", "oauth_client_secret", "proxy_password")


def _text(server: dict[str, Any] | None, name: str, default: str = "") -> str:
    if server is None or name in SECRETS:
        return default
    value = server.get(name)
    return default if value is None else str(value)


def server_fields(s: dict[str, Any] | None, token_status: str) -> ComposeResult:
    """Every field of server `s` (None: a new one), secrets empty; the OAuth ones in `#oauth`,
    ending with `token_status`."""
    has_password = bool(s and s.get("has_password"))
    has_secret = bool(s and s.get("has_oauth_client_secret"))
    has_proxy_password = bool(s and s.get("has_proxy_password"))

    def text(name: str, placeholder: str = "", **kw: Any) -> Input:
        return Input(_text(s, name), placeholder=placeholder, id=name, compact=True, **kw)

    def choice(name: str, options: list[tuple[str, str]], default: str) -> Select[str]:
        value = _text(s, name, default)
        return Select(options, value=value, allow_blank=False, id=name, compact=True)

    yield Field(
        "Provider",
        choice("provider", PROVIDERS, Provider.SMTP),
        name="provider",
        hint="Gmail, Microsoft 365 and SendGrid fill host, port and security",
    )
    yield Field("Name", text("name", "Production SMTP"), name="name", required=True)
    yield Field("Host", text("host", "smtp.example.com"), name="host", required=True)
    yield Field("Port", text("port", "587", type="integer"), name="port")
    yield Field("Security", choice("security", SECURITY, SecurityMode.STARTTLS), name="security")
    yield Field("Auth", choice("auth", AUTH, AuthMode.AUTO), name="auth")
    yield Field("Username", text("username"), name="username", hint="≤ 128 characters")
    yield secret_field("Password", "password", stored=has_password)
    yield Field(
        "From",
        text("mail_from", "Alerts <alerts@example.com>"),
        name="mail_from",
        hint="default: the username when it is an address",
    )
    yield Field("Reply-to", text("reply_to"), name="reply_to")
    yield Field("Timeout (s)", text("timeout", "30", type="number"), name="timeout")
    yield Field(
        "Rate / min",
        text("rate_limit_per_minute", "0", type="integer"),
        name="rate_limit_per_minute",
        hint="0 = no limit",
    )
    yield Field(
        "Verify TLS",
        Toggle(value=bool(s["tls_verify"]) if s else True, id="tls_verify"),
        name="tls_verify",
    )
    yield Field(
        "CA file",
        text("ca_file", "/path/to/ca.pem"),
        name="ca_file",
        hint="PEM bundle to trust besides the system store",
    )
    yield Field(
        "Proxy",
        text("proxy", "socks5://user@proxy.example.com:1080"),
        name="proxy",
        hint="SOCKS5 or HTTP CONNECT (http://host:port); blank: connect directly",
    )
    yield secret_field("Proxy passwd", "proxy_password", stored=has_proxy_password)
    if s is None:
        yield Field(
            "Default",
            Toggle(value=False, id="is_default"),
            name="is_default",
            hint="the owner's first server becomes the default anyway",
        )
    with Vertical(id="oauth", classes="section"):
        yield Label("OAuth 2.0 (XOAUTH2)", classes="section-title")
        yield Field("Client id", text("oauth_client_id"), name="oauth_client_id")
        yield secret_field("Client secret", "oauth_client_secret", stored=has_secret, hint=False)
        yield Field(
            "Directory id",
            text("oauth_directory_id", "Microsoft tenant id"),
            name="oauth_directory_id",
        )
        yield Static(token_status, id="token-status", classes="muted")
