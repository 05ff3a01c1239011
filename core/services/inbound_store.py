"""Where a sync's fetched messages become rows: one batch per transaction, with its watermark.

Fetched messages already stored (the same UID) are skipped; messages of an older incarnation of
the folder (UIDVALIDITY changed) are matched by Message-ID and moved, not stored twice; new rows
are mirrored into Slack (inbox routes) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.context import Context
from core.mail.imap import FetchedMessage, ImapError
from core.models._common import utcnow
from core.models.inbound import HEADER_MAX, MESSAGE_ID_MAX, REASON_MAX, SNIPPET_MAX, InboundMessage
from core.models.mail import EmailAccount
from core.services.slack_inbox import queue_inbox_mirrors


def count_messages(session: Session, account_id: int) -> int:
    query = select(func.count()).select_from(InboundMessage)
    return int(session.exec(query.where(InboundMessage.account_id == account_id)).one())


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


def _columns(message: FetchedMessage, uidvalidity: int) -> dict[str, Any]:
    """The row of a fetched message (every column but id, account and folder)."""
    return {
        "uid": message.uid,
        "uidvalidity": uidvalidity,
        "message_id": _cut(message.message_id, MESSAGE_ID_MAX),
        "from_addr": _cut(message.from_addr, HEADER_MAX),
        "to_addr": message.to_addr,
        "subject": _cut(message.subject, HEADER_MAX),
        "date": message.date,
        "snippet": message.snippet[:SNIPPET_MAX],
        "size": message.size,
        "attachments": list(message.attachments),
        "flags": list(message.flags),
        "quarantined": message.quarantine_reason is not None,
        "quarantine_reason": _cut(message.quarantine_reason, REASON_MAX),
        "fetched_at": utcnow(),
    }


class MessageStore:
    """The `SyncSink` of one account: batches into rows, the watermark onto the account."""

    def __init__(self, ctx: Context, account_id: int, folder: str, *, mirror: bool) -> None:
        self.ctx, self.account_id, self.folder = ctx, account_id, folder
        self.mirror = mirror
        self.stored = 0
        self.quarantined = 0
        self._old_rows: bool | None = None

    def _mark(self, session: Session, uidvalidity: int, last_uid: int) -> None:
        account = session.get(EmailAccount, self.account_id)
        if account is None:
            raise ImapError("the account was deleted during the sync", kind="config")
        if account.imap_uidvalidity == uidvalidity and account.imap_last_uid is not None:
            last_uid = max(last_uid, account.imap_last_uid)
        account.imap_uidvalidity, account.imap_last_uid = uidvalidity, last_uid
        account.message_count = count_messages(session, self.account_id)
        session.add(account)

    def baseline(self, uidvalidity: int, last_uid: int) -> None:
        with self.ctx.session() as session:
            account = session.get(EmailAccount, self.account_id)
            if account is not None:
                account.imap_uidvalidity, account.imap_last_uid = uidvalidity, last_uid
                session.add(account)
                session.commit()

    def store(self, uidvalidity: int, messages: list[FetchedMessage], last_uid: int) -> None:
        for attempt in (1, 2):  # a second process may have stored some of them meanwhile
            try:
                with self.ctx.session() as session:
                    added = self._insert(session, uidvalidity, messages)
                    self._mark(session, uidvalidity, last_uid)
                    session.commit()
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            self.stored += len(added)
            self.quarantined += sum(1 for m in added if m.quarantine_reason)
            return

    def _mailbox(self, query: Any) -> Any:
        return query.where(
            InboundMessage.account_id == self.account_id, InboundMessage.folder == self.folder
        )

    def _insert(
        self, session: Session, uidvalidity: int, messages: list[FetchedMessage]
    ) -> list[FetchedMessage]:
        uids = [m.uid for m in messages]
        have = set(
            session.exec(
                self._mailbox(select(InboundMessage.uid)).where(
                    InboundMessage.uidvalidity == uidvalidity, col(InboundMessage.uid).in_(uids)
                )
            )
        )
        fresh = [m for m in messages if m.uid not in have]
        previous = self._previous_incarnation(session, uidvalidity, fresh)
        new_rows = []
        for message in fresh:
            columns = _columns(message, uidvalidity)
            row = previous(message)
            if row is not None:  # the same message in a re-created mailbox: move it
                for name, value in columns.items():
                    setattr(row, name, value)
                session.add(row)
            else:
                new_rows.append({"account_id": self.account_id, "folder": self.folder, **columns})
        if new_rows:
            # A bulk INSERT of plain rows: building a SQLModel object costs about a millisecond.
            session.execute(insert(InboundMessage), new_rows)
            # Mirrored into Slack in this transaction: stored once, mirrored once.
            account = session.get(EmailAccount, self.account_id) if self.mirror else None
            if account is not None:
                queue_inbox_mirrors(session, self.ctx.box, account, new_rows)
        return fresh

    def _previous_incarnation(
        self, session: Session, uidvalidity: int, messages: list[FetchedMessage]
    ) -> Callable[[FetchedMessage], InboundMessage | None]:
        """Rows stored under an older UIDVALIDITY of this folder, matched by Message-ID
        (or, for messages without one, by sender, subject, date and size)."""
        if self._old_rows is None:
            found = session.exec(
                self._mailbox(select(InboundMessage.id))
                .where(InboundMessage.uidvalidity != uidvalidity)
                .limit(1)
            ).first()
            self._old_rows = found is not None
        if not self._old_rows or not messages:
            return lambda message: None
        ids = {m.message_id[:MESSAGE_ID_MAX] for m in messages if m.message_id}
        old = self._mailbox(select(InboundMessage)).where(InboundMessage.uidvalidity != uidvalidity)
        by_id: dict[str, list[InboundMessage]] = {}
        for row in session.exec(old.where(col(InboundMessage.message_id).in_(ids))):
            by_id.setdefault(row.message_id or "", []).append(row)

        def match(message: FetchedMessage) -> InboundMessage | None:
            if message.message_id:
                rows = by_id.get(message.message_id[:MESSAGE_ID_MAX])
                return rows.pop(0) if rows else None
            return session.exec(
                old.where(
                    col(InboundMessage.message_id).is_(None),
                    InboundMessage.subject == _cut(message.subject, HEADER_MAX),
                    InboundMessage.from_addr == _cut(message.from_addr, HEADER_MAX),
                    InboundMessage.size == message.size,
                )
            ).first()

        return match
