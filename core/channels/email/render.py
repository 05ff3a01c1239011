"""An event's email deliveries: who gets which message, rendered and encrypted at emit time.

Recipients (core/channels/email/recipients.py): the owner's list shares one message in `to`
and `bcc` mode (hidden in `bcc`) and gets one delivery per recipient in `individual` mode; an
event addressed to the payload's own address (a new user's welcome) gets a message of its own.
The event is rendered once; each delivery's copy has its own `To:` and Message-ID. A disabled
event is recorded as `suppressed`; an owner without a mail server as `failed: not configured`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from core.catalog import Event
from core.channels.base import DigestDraft, DigestMessage, Renderer
from core.channels.email.recipients import Group, header_to, payload_address, recipient_groups
from core.crypto import SecretBox
from core.errors import MailbellError, PermanentError
from core.locality import Locality
from core.mail.mime import serialize
from core.models.delivery import Delivery
from core.models.mail import MailServer
from core.models.tenancy import Tenant
from core.pipeline.contents import store_message
from core.pipeline.outbox import DeliveryRow
from core.rendering import RenderedMessage, TemplateSource, render
from core.senders import envelope_sender, server_from
from core.vocabulary import Channel, DeliveryStatus

if TYPE_CHECKING:
    from core.pipeline.emit_config import EmitDraft, OwnerConfig, ServerView


@dataclass(frozen=True)
class _Plan:
    """What one delivery will be before it is written."""

    group: Group
    status: str
    reason: str | None = None

    @property
    def recipients(self) -> list[str]:
        return self.group.recipients


def _plan(event: Event, config: OwnerConfig, groups: list[Group], enabled: bool) -> list[_Plan]:
    if not enabled:
        return [_Plan(g, DeliveryStatus.SUPPRESSED, f"{event.toggle} is off") for g in groups]
    if config.server is None:
        reason = (
            "not configured: the tenant has no mail server and the system server is not "
            "applied to all tenants"
            if event.scope == "tenant"
            else "not configured: the system has no default mail server"
        )
        return [_Plan(g, DeliveryStatus.FAILED, reason) for g in groups]
    return [
        _Plan(g, DeliveryStatus.QUEUED)
        if g.recipients
        else _Plan(g, DeliveryStatus.FAILED, "no recipients configured")
        for g in groups
    ]


@dataclass(frozen=True, slots=True)
class _Content:
    sender: str
    message_id: str
    content: bytes


def _render_message(
    *,
    spec: Event,
    payload: Any,
    server: MailServer | ServerView,
    template: TemplateSource,
    to: tuple[str, ...],
    tenant: Tenant | None,
    locality: Locality,
) -> RenderedMessage:
    return render(
        spec.name,
        payload,
        template=template,
        to=to,
        server_from=server_from(server),
        reply_to=server.reply_to,
        tenant=tenant.slug if tenant is not None else None,
        locality=locality,
    )


@lru_cache(maxsize=4)
def _message_limit(configured: str | None) -> int:
    from core.config import load_settings

    return load_settings().message_max_bytes


def _content(box: SecretBox, message: RenderedMessage) -> _Content:
    """The message serialized (its attachments included) and sealed as one; PermanentError
    over MAILBELL_MESSAGE_MAX_BYTES."""
    raw = serialize(message)
    # Settings are read again only when the variable changes (reading them takes a millisecond).
    limit = _message_limit(os.environ.get("MAILBELL_MESSAGE_MAX_BYTES"))
    if len(raw) > limit:
        raise PermanentError(
            f"the message is {len(raw)} bytes with its attachments; the limit is {limit} "
            "(MAILBELL_MESSAGE_MAX_BYTES)",
            step="render",
        )
    return _Content(
        sender=envelope_sender(message.mail_from),  # the literal or server address
        message_id=message.message_id,
        content=box.encrypt_bytes(raw),
    )


def fill_content(
    delivery: Delivery,
    *,
    session: Session,
    box: SecretBox,
    spec: Event,
    payload: Any,
    server: MailServer,
    template: TemplateSource,
) -> None:
    """Render the message for the delivery's recipients and store it, encrypted (in the
    session's transaction). `To:` follows the owner's recipient mode as it is now."""
    from core.pipeline.emit_config import owner_config

    owner = session.get(Tenant, delivery.tenant_id) if delivery.tenant_id is not None else None
    recipients = [address for address in delivery.target.split(",") if address]
    config = owner_config(session, owner)
    to = header_to(
        recipients, config.recipient_mode, owner_list=payload_address(spec, payload) is None
    )
    message = _render_message(
        spec=spec,
        payload=payload,
        server=server,
        template=template,
        to=to,
        tenant=owner,
        locality=config.locality,
    )
    rendered = _content(box, message)
    delivery.mail_server_id = server.id
    delivery.sender = rendered.sender
    delivery.message_id = rendered.message_id
    assert delivery.id is not None
    store_message(session, delivery.id, rendered.content)


class EmailRenderer(Renderer):
    name = Channel.EMAIL
    digests = True

    def digest(self, draft: DigestDraft) -> DigestMessage:
        """A closed digest's message (core/channels/email/digest.py)."""
        from core.channels.email.digest import email_digest

        return email_digest(draft)

    def rows(self, draft: EmitDraft) -> list[DeliveryRow]:
        spec, config = draft.spec, draft.config
        groups = recipient_groups(spec, draft.payload, config.recipients, config.recipient_mode)
        if not spec.needs_recipients:
            # mailbell's own alerts are on before anyone sets recipients: none, no email (and
            # no failed delivery, which would count against the mail server's health)
            groups = [group for group in groups if group.recipients]
        plans = _plan(spec, config, groups, draft.enabled)
        rows = [self._row(draft, plan) for plan in plans]
        queued = [(row, plan) for row, plan in zip(rows, plans, strict=True) if row.pending]
        if queued and config.server is not None:
            self._fill(draft, config.server, queued)
        return rows

    def _row(self, draft: EmitDraft, plan: _Plan) -> DeliveryRow:
        server = draft.config.server
        return DeliveryRow(
            self.name,
            ",".join(plan.recipients),
            status=plan.status,
            pending=plan.recipients if plan.status == DeliveryStatus.QUEUED else [],
            last_error=plan.reason,
            mail_server_id=server.id if server else None,
            digestible=plan.group.owner_list,
        )

    def _fill(
        self, draft: EmitDraft, server: ServerView, queued: list[tuple[DeliveryRow, _Plan]]
    ) -> None:
        """Render the event once, then give each queued row its copy (its To, Message-ID)."""
        mode = draft.config.recipient_mode
        tos = [header_to(p.recipients, mode, owner_list=p.group.owner_list) for _, p in queued]
        template = draft.config.template(draft.session, draft.tenant, draft.spec.name)
        try:
            message = _render_message(
                spec=draft.spec,
                payload=draft.payload,
                server=server,
                template=template,
                to=tos[0],
                tenant=draft.tenant,
                locality=draft.config.locality,
            )
        except MailbellError as exc:  # a template that cannot render fails, with the reason
            for row, _ in queued:
                row.status, row.last_error, row.pending = DeliveryStatus.FAILED, str(exc), []
            return
        for index, ((row, _), to) in enumerate(zip(queued, tos, strict=True)):
            try:
                rendered = _content(draft.box, message if index == 0 else message.addressed(to))
            except PermanentError as exc:  # over the message size limit
                row.status, row.last_error, row.pending = DeliveryStatus.FAILED, str(exc), []
                continue
            row.sender = rendered.sender
            row.message_id = rendered.message_id
            row.content = rendered.content
