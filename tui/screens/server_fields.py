"""Mail server form: the choices it offers (from core.vocabulary) and its secret fields (the
other fields it sends are its text inputs, tui/screens/server_form.py)."""

from __future__ import annotations

from core.vocabulary import AUTH_LABELS, PROVIDER_LABELS, SECURITY_LABELS

# (label, value) pairs for Select, in the order the vocabulary lists them.
PROVIDERS = [(label, str(value)) for value, label in PROVIDER_LABELS.items()]
SECURITY = [(label, str(value)) for value, label in SECURITY_LABELS.items()]
AUTH = [(label, str(value)) for value, label in AUTH_LABELS.items()]
SECRETS = ("password", "oauth_client_secret", "proxy_password")
