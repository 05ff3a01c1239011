"""The settings document `mailbell export` writes and `mailbell import` reads (version 1), and
the passphrase seal of its secrets: AES-GCM under a key scrypt derives from the passphrase and
a random salt stored in the document (so the file opens in a database with another key ring).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from core.errors import ValidationError

EXPORT_VERSION = 1
Scope = Literal["tenant", "system", "all"]
# scrypt's cost: 32 MiB and about a tenth of a second per derivation, once per file.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
PASSPHRASE_MIN_LENGTH = 8
_NONCE_BYTES = 12
# Sealed in every document with secrets: opening it proves the passphrase before any change.
_CHECK = "mailbell export"

# Mail server fields exported as they are (MailServerRead's names); its secrets are
# core.models.mail.MAIL_SERVER_SECRETS.
SERVER_FIELDS = ("provider", "host", "port", "security", "auth", "username", "mail_from",
                 "reply_to", "timeout", "rate_limit_per_minute", "tls_verify", "ca_file",
                 "ca_pem", "proxy", "oauth_client_id", "oauth_directory_id")  # fmt: skip
ACCOUNT_FIELDS = ("display_name", "imap_host", "imap_port", "imap_username", "imap_tls",
                  "imap_folder")  # fmt: skip
TEMPLATE_PARTS = ("mail_from", "subject", "body")


# -- the document -----------------------------------------------------------------------------


class _Part(BaseModel):
    # Strict: a port given as "587" is a mistake in a document written by mailbell.
    model_config = ConfigDict(extra="forbid", strict=True)


class SettingsDoc(_Part):
    recipients: list[str]
    toggles: dict[str, bool]
    recipient_mode: str
    digests: dict[str, str]
    timezone: str | None = None
    locale: str | None = None
    use_system_server: bool | None = None  # tenants only
    apply_to_all_tenants: bool | None = None  # the system only


class ServerDoc(_Part):
    name: str
    provider: str
    host: str | None = None
    port: int
    security: str
    auth: str
    username: str | None = None
    mail_from: str | None = None
    reply_to: str | None = None
    timeout: float
    rate_limit_per_minute: int
    tls_verify: bool
    ca_file: str | None = None
    ca_pem: str | None = None
    proxy: str | None = None
    oauth_client_id: str | None = None
    oauth_directory_id: str | None = None
    default: bool = False
    has_password: bool = False
    has_proxy_password: bool = False
    has_oauth_client_secret: bool = False
    password: str | None = None
    proxy_password: str | None = None
    oauth_client_secret: str | None = None


class AccountDoc(_Part):
    email: str
    display_name: str
    mail_server: str | None = None
    default: bool = False
    imap_host: str | None = None
    imap_port: int
    imap_username: str | None = None
    imap_tls: bool
    imap_folder: str | None = None
    has_imap_password: bool = False
    imap_password: str | None = None


class TemplateDoc(_Part):
    name: str
    locale: str = ""
    mail_from: str
    subject: str
    body: str


class WebhookDoc(_Part):
    url: str
    events: list[str]
    has_secret: bool = False
    secret: str | None = None


class SlackChannelDoc(_Part):
    team_id: str
    channel_id: str
    routes: list[str]


class OwnerDoc(_Part):
    settings: SettingsDoc
    mail_servers: list[ServerDoc]
    templates: list[TemplateDoc]
    webhooks: list[WebhookDoc]


class TenantDoc(OwnerDoc):
    slug: str
    name: str
    email_accounts: list[AccountDoc]
    slack_channels: list[SlackChannelDoc]


class EncryptionDoc(_Part):
    kdf: Literal["scrypt"]
    n: int
    r: int
    p: int
    salt: str
    cipher: Literal["AES-256-GCM"]
    check: str


class ExportDocument(_Part):
    mailbell_export: int
    exported_at: str
    scope: Scope
    encryption: EncryptionDoc | None = None
    system: OwnerDoc | None
    tenants: list[TenantDoc]


def json_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the document's path: `tenants[0].mail_servers[1].port`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "document"


def parse_document(data: Any) -> ExportDocument:
    """`data` (parsed JSON) as a document of the supported version, or `ValidationError` naming
    the JSON path of the first broken key."""
    if not isinstance(data, dict):
        raise ValidationError("document", "must be a JSON object written by `mailbell export`")
    version = data.get("mailbell_export")
    if version != EXPORT_VERSION:
        raise ValidationError(
            "mailbell_export",
            f"version {version!r} is not supported: this mailbell reads version {EXPORT_VERSION}",
        )
    try:
        return ExportDocument.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        message = {"missing": "is required", "extra_forbidden": "is not a known key"}.get(
            error["type"], error["msg"]
        )
        raise ValidationError(json_path(tuple(error["loc"])), message) from None


# -- sealing secrets under a passphrase -------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class PassphraseSeal:
    """AES-GCM under a key scrypt derives from the passphrase and the document's salt."""

    def __init__(self, passphrase: str, salt: bytes | None = None) -> None:
        if len(passphrase) < PASSPHRASE_MIN_LENGTH:
            raise ValidationError(
                "passphrase", f"must be at least {PASSPHRASE_MIN_LENGTH} characters"
            )
        self.salt = salt if salt is not None else os.urandom(16)
        kdf = Scrypt(salt=self.salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
        self._aead = AESGCM(kdf.derive(passphrase.encode()))

    def seal(self, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        return _b64(nonce + self._aead.encrypt(nonce, value.encode(), None))

    def open(self, token: str, path: str) -> str:
        try:
            raw = base64.b64decode(token, validate=True)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise ValidationError(
                path, "cannot be decrypted: the passphrase is wrong or the file was altered"
            ) from None

    def header(self) -> dict[str, Any]:
        return {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": _b64(self.salt),
            "cipher": "AES-256-GCM",
            "check": self.seal(_CHECK),
        }

    @classmethod
    def for_document(cls, encryption: EncryptionDoc, passphrase: str | None) -> PassphraseSeal:
        """The seal that opens this document's secrets; a missing or wrong passphrase is an
        error naming the passphrase."""
        if passphrase is None:
            raise ValidationError(
                "passphrase",
                "is required: the file holds secrets sealed with one (--passphrase-file F)",
            )
        if (encryption.n, encryption.r, encryption.p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
            raise ValidationError("encryption", "has scrypt parameters this mailbell does not use")
        try:
            salt = base64.b64decode(encryption.salt, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("encryption.salt", "is not base64") from None
        seal = cls(passphrase, salt)
        try:
            if seal.open(encryption.check, "encryption.check") == _CHECK:
                return seal
        except ValidationError:
            pass
        raise ValidationError("passphrase", "is wrong: it does not open this file's secrets")
