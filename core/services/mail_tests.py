"""Test connection and test email — the same functions for the TUI, Slack, the API and the CLI.

- `test_mail_server(ctx=, tenant=, server_id=ID)` walks a saved server through DNS … AUTH …
  MAIL FROM without sending, and records the outcome on the server (last_test_at/ok/message).
  `changes={field: value}` tests a saved server with unsaved edits, or without `server_id` a
  new server's fields (nothing recorded).
- `send_test_email(ctx=, tenant=, recipient=, subject=, content=)` sends one message right
  away through the tenant's effective server (not through the outbox) and returns the
  server's reply, or the step that failed with the reply (HTTP 502 {"error","step","reply"}).
  `server_id=` picks another saved server of the owner, `changes=` unsaved settings, as for
  the connection test. Unsaved settings are drafts (core.services.mail_drafts): checked by the
  rules of a save, never stored; a test is no change, so nothing is audited.
- `smtp_config_for(ctx, server)` is the SmtpConfig of a saved server, with its OAuth token
  provider wired to store refreshed tokens on the server (what the worker's pools use).

A server whose host a tenant-scoped actor set (`fenced`) is checked against
MAILBELL_TENANT_SMTP_NETWORKS before any connection: a refused host is a ValidationError naming
the host field, the same answer whether anything listens there or not (core/netfence.py).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from core import netfence
from core import validation as v
from core.errors import DeliveryError, NotConfigured, ValidationError
from core.mail.connection_report import ConnectionReport, StepCallback
from core.mail.diagnose import diagnose
from core.mail.headers import TEST_EMAIL, automatic_headers, list_id
from core.mail.smtp import SmtpConfig, SmtpPool
from core.mail.smtp_connection import build_tls_context
from core.models._common import utcnow
from core.models.mail import MailServer, MailServerCreate, MailServerUpdate
from core.senders import server_from
from core.services.audit import Actor
from core.services.mail_drafts import UNSAVED_NAME, draft_server
from core.services.mail_servers import resolve_effective_server

if TYPE_CHECKING:
    from core.context import Context
    from core.models.tenancy import Tenant

SUBJECT_MAX = 255
CONTENT_MAX = 100_000
_TAG = re.compile(r"<[a-zA-Z][^>]*>")


def smtp_config_for(
    ctx: Context,
    server: MailServer,
    *,
    store_tokens: bool = True,
    explicit: bool = False,
) -> SmtpConfig:
    """The SmtpConfig of `server`; XOAUTH2 servers get a token provider backed by the row.

    A saved server's AUTH refusals are recorded and obeyed (no AUTH after two refusals within
    the hour: core/mail/auth_guard.py), and a revoked OAuth grant is not asked for tokens. An
    admin's `explicit` test may try anyway (the cause may be fixed at the provider): its
    refusal counts, and its success ends the pause or the revoked mark."""
    provider = None
    if server.auth == "XOAUTH2":
        from core.mail.oauth import provider_for_server, token_provider_for

        if store_tokens:
            provider = token_provider_for(ctx, server, retry_revoked=explicit)
        else:
            provider = provider_for_server(server, settings=ctx.settings, box=ctx.box)
    guard = None
    if store_tokens and server.id is not None:  # not a draft with unsaved credentials
        from core.mail.auth_guard import AuthGuard

        guard = AuthGuard(ctx.engine, server.id, enforce=not explicit)
    return SmtpConfig.from_server(server, ctx.box, token_provider=provider, auth_guard=guard)


async def fence_check(config: SmtpConfig, field: str) -> None:
    """A fenced config's host, refused before any connection (no probe of what listens)."""
    if config.fenced:
        await netfence.checked_addresses(field, config.host)


def _envelope_address(mailbox: str | None) -> str | None:
    return parseaddr(mailbox)[1] or None if mailbox else None


async def test_mail_server(
    *,
    ctx: Context,
    tenant: Tenant | None,
    server_id: int | None = None,
    changes: Mapping[str, Any] | MailServerUpdate | None = None,
    mail_from: str | None = None,
    on_step: StepCallback | None = None,
    actor: Actor | None = None,
    host_field: str = "host",
) -> ConnectionReport:
    """Test connection (no email sent); a saved server's outcome is recorded on it.

    Give a saved `server_id` (with unsaved `changes`: nothing recorded), or `changes` alone (a
    new server's fields, as `server add` takes them). `on_step(step)` is
    called as each step ends, for progress displays. A tenant-scoped `actor`'s unsaved
    settings are fenced as if it had saved them."""
    if server_id is None and not changes:
        raise ValueError("give a server_id or the changes of a new server")
    update = _as_update(changes, new=server_id is None)

    def prepare() -> tuple[SmtpConfig, str | None, ssl.SSLContext | None]:
        with ctx.session() as session:
            server = draft_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                server_id=server_id,
                changes=update,
                actor=actor,
                need_sender=False,
            )
            found = smtp_config_for(ctx, server, store_tokens=update is None, explicit=True)
            sender = _envelope_address(mail_from or server_from(server))
        return found, sender, _tls_context(found)

    prepared, sender, context = await asyncio.to_thread(prepare)
    await fence_check(prepared, host_field)
    report = await diagnose(prepared, mail_from=sender, on_step=on_step, tls_context=context)
    if update is None:
        with ctx.session() as session:
            saved = session.get(MailServer, server_id)
            if saved is not None:
                saved.last_test_at = utcnow()
                saved.last_test_ok = report.ok
                saved.last_test_message = report.summary()[:1000]
                session.add(saved)
                session.commit()
    return report


def _tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """Built by `prepare`, off the event loop: loading the CA store takes 30-60 ms of CPU that
    the loop a test runs on (the API's, Slack's, the TUI's) should not pay. A bundle that does
    not load is left to the walk, which reports it as its `tls` step."""
    if config.security == "none":
        return None
    try:
        return build_tls_context(config)
    except DeliveryError:
        return None


def _as_update(
    changes: Mapping[str, Any] | MailServerUpdate | None, *, new: bool
) -> MailServerUpdate | None:
    """Unsaved fields as the model a save takes (a new server's: `MailServerCreate`); None
    when there are none."""
    if not changes:
        return None
    if isinstance(changes, MailServerUpdate):
        return changes if changes.given() else None
    if new:
        return MailServerCreate.from_fields({"name": UNSAVED_NAME, **changes})
    return MailServerUpdate.from_fields(changes)


test_mail_server.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass
class TestEmailResult:
    __test__ = False

    ok: bool
    step: str | None
    reply: str | None
    message_id: str | None
    error: str | None = None
    server_id: int | None = None
    # Sent through settings that were not saved (server_id: the saved server they edit).
    unsaved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_subject(subject: str | None) -> str:
    text = v.single_line("subject", (subject or "").strip(), max_length=SUBJECT_MAX)
    if not text:
        raise ValidationError("subject", "is required")
    return text


def _check_content(content: str | None) -> str:
    text = content or ""
    if not text.strip():
        raise ValidationError("content", "is required")
    if len(text) > CONTENT_MAX:
        raise ValidationError(
            "content", f"is {len(text)} characters long; at most {CONTENT_MAX} are allowed"
        )
    return text


def build_test_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    content: str,
    reply_to: str | None = None,
    tenant: str | None = None,
) -> tuple[bytes, str]:
    """The test email as CRLF bytes, and its Message-ID; automatic like every message mailbell
    sends (core/mail/headers.py), its List-Id naming `tenant` (a slug; None: the system)."""
    domain = (_envelope_address(sender) or "mailbell.local").rpartition("@")[2] or "mailbell.local"
    message_id = make_msgid(idstring="test", domain=domain)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if reply_to:
        message["Reply-To"] = reply_to
    for name, value in automatic_headers(list_id(TEST_EMAIL, tenant, domain)):
        message[name] = value
    if _TAG.search(content):
        from core.html_text import html_to_text

        message.set_content(html_to_text(content))
        message.add_alternative(content, subtype="html")
    else:
        message.set_content(content)
    return message.as_bytes(policy=SMTP_POLICY), message_id


def _no_server(tenant: Tenant | None) -> NotConfigured:
    if tenant is None:
        return NotConfigured(
            "the system has no default mail server: add one with `mailbell server add --system`"
        )
    return NotConfigured(
        f"tenant {tenant.slug!r} has no mail server: add one with `mailbell server add "
        f"--tenant {tenant.slug}`, or turn on apply_to_all_tenants for the system server"
    )


@dataclass(frozen=True)
class _Prepared:
    config: SmtpConfig
    sender: str
    message: bytes
    message_id: str
    server_id: int | None


async def send_test_email(
    *,
    ctx: Context,
    tenant: Tenant | None,
    recipient: str,
    subject: str,
    content: str,
    host_field: str = "host",
    server_id: int | None = None,
    changes: Mapping[str, Any] | MailServerUpdate | None = None,
    actor: Actor | None = None,
) -> TestEmailResult:
    """Send one message now through the effective server of `tenant` (None: the system), or
    through saved server `server_id` of this owner, with unsaved `changes` if given, or through
    a new server made of `changes` alone (nothing is stored: core.services.mail_drafts).

    A fenced server's host is checked first: refused, it is a ValidationError naming
    `host_field` (`server` in the PortSIP API), whatever listens at the host."""
    address = v.email_address("recipient", recipient or "")
    subject = _check_subject(subject)
    content = _check_content(content)
    update = _as_update(changes, new=server_id is None)

    def prepare() -> _Prepared:
        with ctx.session() as session:
            if server_id is None and update is None:
                server = resolve_effective_server(session=session, tenant=tenant).server
                if server is None:
                    raise _no_server(tenant)
            else:
                server = draft_server(
                    session=session,
                    box=ctx.box,
                    tenant=tenant,
                    server_id=server_id,
                    changes=update,
                    actor=actor,
                )
            sender = server_from(server)
            if not sender:
                raise ValidationError(
                    "mail_from",
                    f"is not set on mail server {server.id} ({server.name}) and its username is "
                    "not an address: set the From address",
                )
            message, message_id = build_test_message(
                sender=sender,
                recipient=address,
                subject=subject,
                content=content,
                reply_to=server.reply_to,
                tenant=tenant.slug if tenant is not None else None,
            )
            return _Prepared(
                config=smtp_config_for(ctx, server, store_tokens=update is None, explicit=True),
                sender=sender,
                message=message,
                message_id=message_id,
                server_id=server.id,
            )

    prepared = await asyncio.to_thread(prepare)
    await fence_check(prepared.config, host_field)
    pool = SmtpPool(prepared.config, size=1)
    unsaved = update is not None
    try:
        result = await pool.send(
            sender=_envelope_address(prepared.sender) or prepared.sender,
            recipients=[address],
            message=prepared.message,
        )
    except DeliveryError as exc:
        return TestEmailResult(
            ok=False,
            step=exc.step,
            reply=exc.reply,
            message_id=None,
            error=exc.message,
            server_id=prepared.server_id,
            unsaved=unsaved,
        )
    finally:
        await pool.close()
    return TestEmailResult(
        ok=True,
        step=None,
        reply=str(result.reply) if result.reply else None,
        message_id=prepared.message_id,
        server_id=prepared.server_id,
        unsaved=unsaved,
    )
