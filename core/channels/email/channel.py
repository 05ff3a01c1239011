"""The email channel's sending side: one SMTP pool per mail server, rebuilt when the server's
settings change.

Where waiting cannot help, nothing is tried: a server whose OAuth authorization was revoked
fails its deliveries at once (no token endpoint, no connection), and one whose credentials
were refused twice within the hour defers them without connecting (core/mail/auth_guard.py,
one guard per server shared by its successive pools)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select

from core.channels.base import Channel, ChannelResult, ClaimedDelivery
from core.context import Context
from core.errors import AuthorizationRevoked, PermanentError
from core.generation import current_generation
from core.mail.auth_guard import AuthGuard
from core.mail.oauth_server import revoked_message
from core.mail.smtp import SmtpConfig, SmtpPool
from core.models.mail import MailServer
from core.vocabulary import Channel as VocabularyChannel

log = logging.getLogger(__name__)


class EmailChannel(Channel):
    name = VocabularyChannel.EMAIL

    def __init__(self, ctx: Context, *, pool_size: int = 4) -> None:
        self.ctx = ctx
        self.pool_size = pool_size
        self._pools: dict[int, tuple[datetime, SmtpPool]] = {}
        self._servers: dict[int, MailServer] = {}
        self._guards: dict[int, AuthGuard] = {}
        self._retired: list[SmtpPool] = []  # pools of changed servers, closed on the next send
        self._generation: int | None = None  # of the configuration the rows were read at

    def prepare(self, batch: Sequence[ClaimedDelivery]) -> None:
        self.load_servers({d.mail_server_id for d in batch if d.mail_server_id is not None})

    def load_servers(self, server_ids: set[int]) -> None:
        """Refresh the server rows the next sends need (called from the worker's DB thread).

        Read again only when the configuration generation moved (core/generation.py): one
        indexed row per claim instead of the servers themselves.
        """
        if not server_ids:
            return
        with self.ctx.session() as session:
            generation = current_generation(session)
            if generation is None or generation != self._generation:
                # Every row held is re-read (in place: sends in flight may be reading them).
                server_ids = server_ids | self._servers.keys()
            elif server_ids <= self._servers.keys():
                return
            rows = session.exec(select(MailServer).where(col(MailServer.id).in_(server_ids))).all()
            self._generation = generation
            for row in rows:
                assert row.id is not None
                self._servers[row.id] = row

    def rate_limit(self, delivery: ClaimedDelivery) -> int:
        server_id = delivery.mail_server_id
        server = self._servers.get(server_id) if server_id is not None else None
        return server.rate_limit_per_minute if server else 0

    def _pool(self, server_id: int | None) -> SmtpPool:
        server = self._servers.get(server_id) if server_id is not None else None
        if server is None or server_id is None:
            raise PermanentError(
                "the mail server of this delivery was deleted: configure one, then retry it",
                step="connect",
            )
        if server.auth == "XOAUTH2" and server.auth_revoked_at is not None:
            stale = self._pools.pop(server_id, None)  # its token provider knows it is revoked
            if stale is not None:
                self._retired.append(stale[1])
            raise AuthorizationRevoked(
                revoked_message(server.auth_revoked_reason or "refused", server_id), step="oauth"
            )
        cached = self._pools.get(server_id)
        if cached is not None and cached[0] == server.updated_at:
            return cached[1]
        if cached is not None:
            self._retired.append(cached[1])
        token_provider = None
        if server.auth == "XOAUTH2":
            from core.mail.oauth import token_provider_for

            token_provider = token_provider_for(self.ctx, server)
        guard = self._guards.get(server_id)
        if guard is None:
            guard = self._guards[server_id] = AuthGuard(self.ctx.engine, server_id)
        config = SmtpConfig.from_server(
            server, self.ctx.box, token_provider=token_provider, auth_guard=guard
        )
        pool = SmtpPool(config, size=self.pool_size)
        self._pools[server_id] = (server.updated_at, pool)
        return pool

    async def send(self, delivery: ClaimedDelivery) -> ChannelResult:
        pool = self._pool(delivery.mail_server_id)
        for old in self._retired:
            await old.close()
        self._retired.clear()
        message = self.ctx.box.decrypt_bytes(delivery.content)
        result = await pool.send(
            sender=delivery.sender, recipients=delivery.pending, message=message
        )
        return ChannelResult(
            accepted=list(result.accepted),
            refused={addr: (reply.code, reply.message) for addr, reply in result.refused.items()},
            reply=f"{result.reply.code} {result.reply.message}" if result.reply else None,
        )

    async def close(self) -> None:
        for _, pool in self._pools.values():
            await pool.close()
        self._pools.clear()
