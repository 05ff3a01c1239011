"""Plain-language hints for SMTP failures, and descriptions of server certificates.

Used by `core.mail.diagnose` (test connection) and by front ends showing a delivery error.
"""

from __future__ import annotations

import re
import ssl
from datetime import UTC, datetime
from typing import Any

from core.errors import DeliveryError
from core.mail.smtp_connection import SmtpConfig, local_hostname

CERTIFICATE_FIX = (
    "If the server uses a private CA, set ca_file to that CA's PEM bundle; if the certificate "
    "is wrong or expired, fix it on the server. tls_verify false skips the check (testing only)."
)
BASIC_AUTH_DISABLED = (
    "Microsoft 365 has basic (password) authentication disabled for SMTP (5.7.139): use "
    "OAuth 2.0 (auth XOAUTH2, then `mailbell oauth authorize --server ID`), or have an admin "
    "enable Authenticated SMTP for this mailbox."
)
NOT_AUTHENTICATED = (
    "The server accepts mail only from authenticated clients (5.7.57 / 5.7.3): set auth (not "
    "DISABLE) with a username and password or OAuth; for Microsoft 365, enable Authenticated "
    "SMTP for the mailbox (admin center → user → Mail → Manage email apps) and check that "
    "security defaults do not block it."
)
STARTTLS_REQUIRED = (
    "The server requires STARTTLS before this command (530 5.7.0): set security to starttls "
    "(port 587) or tls (port 465)."
)
WRONG_PASSWORD = (
    "The username or password was refused. Check both; accounts with two-step verification "
    "(Gmail, Microsoft) need an app password, or use OAuth 2.0 (auth XOAUTH2)."
)
APP_PASSWORD = (
    "The provider wants an app password (534 5.7.9): create one in the account's security "
    "settings, or use OAuth 2.0 (auth XOAUTH2)."
)
SEND_AS_DENIED = (
    "This account may not send as the From address (5.7.60): use the mailbox's own address "
    "or grant it Send As permission."
)
ENCRYPTION_REQUIRED = (
    "The server allows AUTH only over an encrypted connection: set security to starttls or tls."
)
OAUTH = (
    "Authorize again with `mailbell oauth authorize --server ID`; check the client id, client "
    "secret and directory id, and that this machine reaches the token endpoint."
)


def _has_code(text: str, code: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(code)}(?![\d])", text) is not None


def hint_for_reply(code: int, message: str, step: str, config: SmtpConfig) -> str | None:
    """A hint for a server reply (code + text, enhanced status codes included)."""
    text = message.lower()
    if _has_code(text, "5.7.139") or "basic authentication is disabled" in text:
        return BASIC_AUTH_DISABLED
    if _has_code(text, "5.7.57") or _has_code(text, "5.7.3") or "not authenticated" in text:
        return NOT_AUTHENTICATED
    if code == 530 and "starttls" in text:
        return STARTTLS_REQUIRED
    if code == 530 and "auth" in text:
        return NOT_AUTHENTICATED
    if _has_code(text, "5.7.60") or "send as" in text:
        return SEND_AS_DENIED
    if code == 534 or _has_code(text, "5.7.9"):
        return APP_PASSWORD
    if code == 538 or _has_code(text, "5.7.11"):
        return ENCRYPTION_REQUIRED
    if code == 535 or (step == "auth" and code // 100 == 5):
        return WRONG_PASSWORD
    if code == 421:
        return "The server is closing the connection (busy or shutting down): try again later."
    if step == "greeting" and code // 100 == 5:
        return "The server refuses this client (its address may be blocked or not allowed)."
    if code // 100 == 4:
        return "A temporary refusal: mailbell retries such failures later."
    return None


def hint_for_error(error: DeliveryError, config: SmtpConfig) -> str | None:
    """A hint for a classified transport error (what `SmtpPool.send` raises)."""
    step, message = error.step or "", error.message
    if step == "oauth":
        return OAUTH
    if "not trusted" in message:
        return f"The server's certificate is not trusted. {CERTIFICATE_FIX}"
    if "handshake" in message and step in ("tls", "starttls"):
        if config.security == "tls":
            return (
                f"Port {config.port} does not speak implicit TLS (it probably answered in plain "
                "text): use security starttls on port 587 (or none on 25), or port 465 for tls."
            )
        return "The TLS handshake failed: check the port and the server's TLS configuration."
    if step == "dns":
        return f"Check the spelling of the host name {config.host!r} and this machine's DNS."
    if "connection refused" in message:
        return (
            "Nothing accepts connections on this port: check the host and the port (587 for "
            "STARTTLS, 465 for TLS, 25 for plain) and that the server runs."
        )
    if "timed out" in message:
        if step in ("connect",):
            return "A firewall may drop the traffic (port 25 is often blocked) or the host is down."
        if config.security != "tls" and config.port == 465:
            return "Port 465 expects implicit TLS: use security tls."
        return "The server did not answer in time: try again, or raise the timeout."
    if "not SMTP" in message:
        return "The server's answer is not SMTP: check the port and the security mode."
    if error.code is not None:
        return hint_for_reply(error.code, error.reply or message, step, config)
    return None


def describe_certificate(der: bytes | None) -> dict[str, Any]:
    """Subject, issuer, validity and names of a DER certificate, for people."""
    if not der:
        return {"summary": "no certificate"}
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def common_name(name: x509.Name) -> str:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else name.rfc4514_string()

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    now = datetime.now(UTC)
    not_after = cert.not_valid_after_utc
    subject, issuer = common_name(cert.subject), common_name(cert.issuer)
    self_signed = cert.subject == cert.issuer
    expired = not_after < now
    summary = (
        f"CN={subject} issued by {'itself (self-signed)' if self_signed else issuer}, "
        f"{'EXPIRED' if expired else 'valid'} until {not_after:%Y-%m-%d}"
    )
    return {
        "summary": summary,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": not_after.isoformat(),
        "names": names,
        "self_signed": self_signed,
        "expired": expired,
    }


def certificate_hint(
    error: ssl.SSLCertVerificationError, certificate: dict[str, Any] | None, config: SmtpConfig
) -> str:
    reason = (error.verify_message or "").lower()
    certificate = certificate or {}
    if certificate.get("expired") or "expired" in reason:
        return f"The server's certificate has expired. {CERTIFICATE_FIX}"
    if "hostname" in reason or "ip address mismatch" in reason:
        names = ", ".join(certificate.get("names") or []) or "other names"
        return (
            f"The certificate is for {names}, not {config.host!r}: use the host name the "
            "certificate names, or fix the certificate."
        )
    reason = reason or "unknown issuer"
    return f"The server's certificate is not trusted ({reason}). {CERTIFICATE_FIX}"


async def peer_certificate(config: SmtpConfig, *, starttls: bool) -> dict[str, Any] | None:
    """The certificate the server presents, fetched without verification (for reports)."""
    from aiosmtplib import SMTP

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = None
    if config.proxy is not None:  # never around the proxy: the direct path may not exist
        from core.mail.proxy import open_tunnel

        try:
            sock = await open_tunnel(config)
        except Exception:
            return None
    smtp = SMTP(
        hostname=config.host,
        port=None if sock is not None else config.port,
        sock=sock,
        timeout=min(config.timeout, 10.0),
        use_tls=not starttls,
        start_tls=False,
        tls_context=context,
        local_hostname=await local_hostname(),
    )
    try:
        await smtp.connect()
        if starttls:
            await smtp.ehlo()
            await smtp.starttls()
        ssl_object = smtp.get_transport_info("ssl_object")
        return describe_certificate(ssl_object.getpeercert(binary_form=True))
    except Exception:
        return None
    finally:
        smtp.close()
