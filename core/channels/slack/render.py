"""An event's Slack deliveries: one per channel that mirrors it (its Slack routes); and the new
version of a posted alert that an edit carries (`edited`, core/channels/slack/status_blocks.py).

The files the event's mail carries (core/attachments) are named in the message, not uploaded:
they are built once per event from the validated payload (the only place their bytes are) and
handed to each row's message through its `route`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.attachments import BUILDERS, attachments_for
from core.channels.base import DigestDraft, DigestMessage, Renderer, StatusNote
from core.channels.slack.blocks import alert_message
from core.pipeline.outbox import DeliveryRow
from core.services.slack import slack_targets
from core.vocabulary import Channel, DeliveryStatus

if TYPE_CHECKING:
    from core.pipeline.emit_config import EmitDraft
    from core.pipeline.emit_write import PreparedEmit


class SlackRenderer(Renderer):
    name = Channel.SLACK
    digests = True
    edits = True  # chat.update

    def edited(self, box: Any, original: bytes, note: StatusNote) -> bytes:
        """The posted alert `original` with the status line of `note`."""
        from core.channels.slack.status_blocks import with_status

        message = json.loads(box.decrypt_bytes(original)) if original else {}
        edited = with_status(message if isinstance(message, dict) else {}, note)
        encrypted: bytes = box.encrypt_bytes(json.dumps(edited).encode())
        return encrypted

    def digest(self, draft: DigestDraft) -> DigestMessage:
        """A closed digest's message (core/channels/slack/digest_blocks.py)."""
        from core.channels.slack.digest_blocks import slack_digest

        return slack_digest(draft)

    def rows(self, draft: EmitDraft) -> list[DeliveryRow]:
        if not draft.enabled:
            return []
        name = draft.spec.name
        targets = draft.config.targets(
            self.name, name, lambda: slack_targets(draft.session, draft.tenant, name)
        )
        files = _files(name, draft.payload, draft) if targets and name in BUILDERS else ()
        return [
            DeliveryRow(
                self.name, target, status=DeliveryStatus.QUEUED, pending=[target], route=files
            )
            for target in targets
        ]

    def message(
        self, prepared: PreparedEmit, row: DeliveryRow, delivery_id: int, at: datetime
    ) -> bytes | None:
        """The alert's context line names its delivery id, known only after the insert. An
        edit's message is the alert it edits, made before (`row.content`)."""
        if row.edit_of is not None:
            return None
        files = row.route
        if files is None and prepared.spec.name in BUILDERS:  # a copy made by a resend
            files = _files(prepared.spec.name, prepared.spec.validate(prepared.data or {}), None)
        message = alert_message(
            event=prepared.spec,
            payload=prepared.shown,
            tenant=prepared.tenant.slug if prepared.tenant else None,
            delivery_id=delivery_id,
            at=at,
            files=files or (),
        )
        return prepared.box.encrypt_bytes(json.dumps(message).encode())


def _files(event: str, payload: Any, draft: EmitDraft | None) -> tuple[dict[str, Any], ...]:
    """Name, type and size of each file the event's mail carries, built as its mail builds
    them (in the owner's locality)."""
    from core.locality import rendering_in

    with rendering_in(draft.config.locality if draft is not None else None):
        return tuple(file.shown() for file in attachments_for(event, payload, mail_from=""))
