"""The webhook channel's sending side: signed POSTs through shared aiohttp sessions.

Targets (URL, secret, fence mark) are read on the worker's database thread (`prepare`), per
owner, again whenever the configuration generation moved (core/generation.py): a removed
target fails its queued deliveries permanently; a new secret signs the next attempt.
Two client sessions at most, each opened on first use and kept: one for targets added by
system-level actors, one that resolves through the network fence for tenant-added ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from sqlmodel import col, or_, select

from core.channels.base import Channel, ChannelResult, ClaimedDelivery
from core.channels.webhook.http import post
from core.channels.webhook.render import parse_stored
from core.context import Context
from core.errors import PermanentError
from core.generation import current_generation
from core.models.webhooks import WebhookTarget
from core.vocabulary import Channel as VocabularyChannel


@dataclass(frozen=True, slots=True)
class _Target:
    tenant_id: int | None
    url: str
    secret: str | None
    fenced: bool


class WebhookChannel(Channel):
    name = VocabularyChannel.WEBHOOK

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._targets: dict[int, _Target] = {}
        self._owners: set[int | None] = set()  # owners whose targets are loaded
        self._generation: int | None = None
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def prepare(self, batch: Sequence[ClaimedDelivery]) -> None:
        owners = {delivery.tenant_id for delivery in batch}
        if not owners:
            return
        with self.ctx.session() as session:
            generation = current_generation(session)
            targets, loaded = dict(self._targets), set(self._owners)
            if generation is None or generation != self._generation:
                owners |= loaded
                targets, loaded = {}, set()
            elif owners <= loaded:
                return
            missing = owners - loaded
            tenant_ids = [owner for owner in missing if owner is not None]
            conditions = [col(WebhookTarget.tenant_id).in_(tenant_ids)] if tenant_ids else []
            if None in missing:
                conditions.append(col(WebhookTarget.tenant_id).is_(None))
            rows = session.exec(select(WebhookTarget).where(or_(*conditions))).all()
            box = self.ctx.box
            for row in rows:
                assert row.id is not None
                secret = box.decrypt(row.secret_enc) if row.secret_enc else None
                targets[row.id] = _Target(row.tenant_id, row.url, secret, row.fenced)
            # Swapped whole: sends in flight on the event loop read the old map meanwhile.
            self._targets, self._owners = targets, loaded | missing
            self._generation = generation

    def _http(self, fenced: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(fenced)
        if session is None or session.closed:
            from core.channels.webhook.http import new_session

            session = self._sessions[fenced] = new_session(fenced=fenced)
        return session

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        try:
            target_id, body = parse_stored(self.ctx.box.decrypt_bytes(delivery.content))
        except ValueError:
            raise PermanentError(
                "the stored webhook message is unreadable", step="render"
            ) from None
        target = self._targets.get(target_id)
        if target is None or target.tenant_id != delivery.tenant_id:
            raise PermanentError(
                f"webhook {target_id} was removed: nothing to send to", step="webhook"
            )
        answer = await post(
            self._http(target.fenced), target.url, body, secret=target.secret, fenced=target.fenced
        )
        return ChannelResult(accepted=list(delivery.pending), reply=answer.reply)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            if not session.closed:
                await session.close()
