"""An event's Slack deliveries: one per channel that mirrors it (its Slack routes)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from core.channels.base import DigestDraft, DigestMessage, Renderer
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
        return [
            DeliveryRow(self.name, target, status=DeliveryStatus.QUEUED, pending=[target])
            for target in targets
        ]

    def message(
        self, prepared: PreparedEmit, row: DeliveryRow, delivery_id: int, at: datetime
    ) -> bytes:
        """The alert's context line names its delivery id, known only after the insert."""
        message = alert_message(
            event=prepared.spec,
            payload=prepared.shown,
            tenant=prepared.tenant.slug if prepared.tenant else None,
            delivery_id=delivery_id,
            at=at,
        )
        return prepared.box.encrypt_bytes(json.dumps(message).encode())
