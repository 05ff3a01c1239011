"""Mail server form: the choices it offers (from core.vocabulary) and the fields it sends."""

from __future__ import annotations

from core.vocabulary import AUTH_LABELS, PROVIDER_LABELS, SECURITY_LABELS

# (label, value) pairs for Select, in the order the vocabulary lists them.
PROVIDERS = [(label, str(value)) for value, label in PROVIDER_LABELS.items()]
SECURITY = [(label, str(value)) for value, label in SECURITY_LABELS.items()]
AUTH = [(label, str(value)) for value, label in AUTH_LABELS.items()]
TEXT_FIELDS = (
    "name",
    "host",
    "port",
    "username",
    "password",
    "mail_from",
    "reply_to",
    "timeout",
    "rate_limit_per_minute",
    "ca_file",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_directory_id",
)
SECRETS = ("password", "oauth_client_secret")
