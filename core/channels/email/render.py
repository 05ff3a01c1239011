"""An event's email deliveries: who gets which message, rendered and encrypted at emit time.

Recipients: the owner's list shares one message; an event addressed to the payload's own
address (a new user's welcome) gets a message of its own. A disabled event is recorded as
`suppressed`; an owner without a mail server as `failed: not configured`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from core.catalog import Event
from core.channels.base import Renderer
from core.crypto import SecretBox
from core.errors import MailbellError
from core.mail.mime import serialize
from core.models.delivery import Delivery
from core.models.mail import MailServer
from core.pipeline.contents import store_message
from core.pipeline.outbox import DeliveryRow
from core.rendering import TemplateSource, render
from core.senders import envelope_sender
from core.vocabulary import Channel, DeliveryStatus

if TYPE_CHECKING:
    from core.pipeline.emit_config import EmitDraft, OwnerConfig, ServerView


@dataclass(frozen=True)
class _Plan:
    """What one delivery will be before it is written."""

    recipients: list[str]
    status: str
    reason: str | None = None


def _recipient_groups(event: Event, payload: Any, recipients: list[str]) -> list[list[str]]:
    """One list per message: tenant/system recipients share one; a payload address is its own."""
    email = getattr(payload, "email", None)
    if event.audience == "payload_email":
        return [[str(email)]]
    if event.audience == "payload_email_or_tenant_recipients" and email:
        return [[str(email)]]
    return [list(recipients)]


def _plan(event: Event, config: OwnerConfig, groups: list[list[str]], enabled: bool) -> list[_Plan]:
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
        if g
        else _Plan(g, DeliveryStatus.FAILED, "no recipients configured")
        for g in groups
    ]


def _server_from(server: MailServer | ServerView) -> str:
    if server.mail_from:
        return server.mail_from
    if server.username and "@" in server.username:
        return server.username
    return ""


@dataclass(frozen=True, slots=True)
class _Content:
    sender: str
    message_id: str
    content: bytes


def _render_content(
    *,
    box: SecretBox,
    spec: Event,
    payload: Any,
    server: MailServer | ServerView,
    template: TemplateSource,
    recipients: list[str],
) -> _Content:
    message = render(
        spec.name,
        payload,
        template=template,
        to=recipients,
        server_from=_server_from(server),
        reply_to=server.reply_to,
    )
    return _Content(
        sender=envelope_sender(message.mail_from),  # the literal or server address
        message_id=message.message_id,
        content=box.encrypt_bytes(serialize(message)),
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
    session's transaction)."""
    rendered = _render_content(
        box=box,
        spec=spec,
        payload=payload,
        server=server,
        template=template,
        recipients=[address for address in delivery.target.split(",") if address],
    )
    delivery.mail_server_id = server.id
    delivery.sender = rendered.sender
    delivery.message_id = rendered.message_id
    assert delivery.id is not None
    store_message(session, delivery.id, rendered.content)


class EmailRenderer(Renderer):
    name = Channel.EMAIL

    def rows(self, draft: EmitDraft) -> list[DeliveryRow]:
        spec, config = draft.spec, draft.config
        groups = _recipient_groups(spec, draft.payload, config.recipients)
        if not spec.needs_recipients:
            # mailbell's own alerts are on before anyone sets recipients: none, no email (and
            # no failed delivery, which would count against the mail server's health)
            groups = [group for group in groups if group]
        plans = _plan(spec, config, groups, draft.enabled)
        template = (
            config.template(draft.session, draft.tenant, spec.name)
            if any(plan.status == DeliveryStatus.QUEUED for plan in plans)
            else None
        )
        return [self._row(draft, plan, template) for plan in plans]

    def _row(self, draft: EmitDraft, plan: _Plan, template: TemplateSource | None) -> DeliveryRow:
        server = draft.config.server
        queued = plan.status == DeliveryStatus.QUEUED
        row = DeliveryRow(
            self.name,
            ",".join(plan.recipients),
            status=plan.status,
            pending=plan.recipients if queued else [],
            last_error=plan.reason,
            mail_server_id=server.id if server else None,
        )
        if queued and server is not None and template is not None:
            try:
                rendered = _render_content(
                    box=draft.box,
                    spec=draft.spec,
                    payload=draft.payload,
                    server=server,
                    template=template,
                    recipients=plan.recipients,
                )
            except MailbellError as exc:  # a template that cannot render fails, with the reason
                row.status, row.last_error, row.pending = DeliveryStatus.FAILED, str(exc), []
            else:
                row.sender = rendered.sender
                row.message_id = rendered.message_id
                row.content = rendered.content
        return row
