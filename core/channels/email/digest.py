"""The email of a closed digest: the owner's DIGEST template over the held events.

Rendered on the worker's database thread when the window closes (core/pipeline/digests.py),
through the server the burst's single messages went through (the owner's effective server when
that one is gone), to the burst's recipients as the owner's recipient mode addresses them. A
custom DIGEST template that fails to render falls back to the shipped one, so a broken
customisation never loses a burst; when the shipped one fails too the digest fails with the
reason (`PermanentError`, step `render`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from core.catalog import DIGEST
from core.channels.base import DigestMessage
from core.channels.digest_content import draft_payload
from core.channels.email.recipients import header_to
from core.errors import MailbellError, NotConfigured, PermanentError
from core.locality import rendering_in
from core.mail.mime import serialize
from core.models.mail import MailServer
from core.rendering import RenderedMessage, TemplateSource, default_template, render
from core.senders import server_from
from core.services.mail_servers import resolve_effective_server
from core.services.templates import effective_template

if TYPE_CHECKING:
    from core.catalog_payloads import DigestPayload
    from core.channels.base import DigestDraft
    from core.pipeline.emit_config import OwnerConfig

log = logging.getLogger(__name__)
LISTED_WHEN_SHORT = 50


def _server(draft: DigestDraft) -> MailServer:
    """The server the burst's messages went through; the owner's effective one when it is gone."""
    server = None
    if draft.mail_server_id is not None:
        server = draft.session.get(MailServer, draft.mail_server_id)
    if server is None:
        server = resolve_effective_server(session=draft.session, tenant=draft.tenant).server
    if server is None:
        raise NotConfigured(
            "not configured: no mail server can send this digest (the one its events went "
            "through was removed and the owner has no effective server)"
        )
    return server


def _config(draft: DigestDraft) -> OwnerConfig:
    from core.pipeline.emit_config import owner_config

    return owner_config(draft.session, draft.tenant)


def recipient_mode(draft: DigestDraft) -> str:
    return _config(draft).recipient_mode


def _to(draft: DigestDraft) -> tuple[str, ...]:
    """The `To:` of the digest, as the owner's single messages show it: a burst is always of
    the owner's list (a payload-addressed message is never held)."""
    recipients = [address for address in draft.target.split(",") if address]
    return header_to(recipients, recipient_mode(draft))


def _render(
    draft: DigestDraft, payload: DigestPayload, template: TemplateSource, server: MailServer
) -> RenderedMessage:
    return render(
        DIGEST,
        payload,
        template=template,
        locality=_config(draft).locality,
        to=_to(draft),
        server_from=server_from(server),
        reply_to=server.reply_to,
        # List-Id: filed with the owner's messages of the event it gathers (core/mail/headers.py)
        tenant=getattr(draft.tenant, "slug", None),
        list_event=draft.event,
    )


def render_digest(draft: DigestDraft) -> RenderedMessage:
    """The digest message (not yet serialised): the owner's template, else the default; and
    when even that fails with hundreds of items (a render budget hit on a loaded machine), the
    default listing the first `LISTED_WHEN_SHORT` (the rest counted as not listed)."""
    with rendering_in(_config(draft).locality):  # the items' times in the owner's zone
        payload = draft_payload(draft)
    server = _server(draft)
    locale = _config(draft).locality.locale
    template = effective_template(
        session=draft.session, tenant=draft.tenant, name=DIGEST, locale=locale
    )
    if template.custom:
        try:
            return _render(draft, payload, template, server)
        except MailbellError as exc:
            owner = getattr(draft.tenant, "slug", None) or "the system"
            log.warning(
                "custom DIGEST template of %s failed (%s); digest %s uses the default",
                owner,
                exc,
                draft.delivery_id,
            )
    shipped = default_template(DIGEST, locale)
    try:
        return _render(draft, payload, shipped, server)
    except MailbellError as exc:
        if len(draft.items) <= LISTED_WHEN_SHORT:
            raise PermanentError(f"digest: {exc}", step="render") from None
        log.warning("digest %s failed (%s); it lists fewer items", draft.delivery_id, exc)
    with rendering_in(_config(draft).locality):
        shorter = draft_payload(replace(draft, items=draft.items[:LISTED_WHEN_SHORT]))
    try:
        return _render(draft, shorter, shipped, server)
    except MailbellError as exc:
        raise PermanentError(f"digest: {exc}", step="render") from None


def email_digest(draft: DigestDraft) -> DigestMessage:
    """The message of a closed digest (EmailRenderer.digest)."""
    message = render_digest(draft)
    content = bytes(draft.box.encrypt_bytes(serialize(message)))
    return DigestMessage(content, message.message_id)
