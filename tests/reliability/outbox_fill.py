"""Fill an outbox fast: one rendered message, copied with a fresh Message-ID per delivery."""

from __future__ import annotations

from email.utils import make_msgid

from sqlalchemy import insert
from sqlmodel import select

from core.context import Context
from core.models.delivery import Delivery
from core.models.tenancy import Tenant
from core.pipeline.contents import insert_contents
from tests.support.factories import emit_event


def fill(ctx: Context, tenant: Tenant, count: int) -> None:
    with ctx.session() as session:
        first = emit_event(session, ctx.box, tenant).deliveries[0]
        template = session.exec(select(Delivery).where(Delivery.id == first.id)).one()
        plain = ctx.box.decrypt_bytes(first.content)
        old_id = template.message_id
        assert old_id is not None
        row = template.model_dump(exclude={"id"})
        rows = [{**row, "message_id": make_msgid(domain="acme.org")} for _ in range(count - 1)]
        for start in range(0, len(rows), 2000):
            inserted = session.execute(
                insert(Delivery).returning(Delivery.id, Delivery.message_id),
                rows[start : start + 2000],
            )
            contents = [
                (i, ctx.box.encrypt_bytes(plain.replace(old_id.encode(), mid.encode(), 1)))
                for i, mid in inserted
            ]
            insert_contents(session.connection(), contents)
        session.commit()
