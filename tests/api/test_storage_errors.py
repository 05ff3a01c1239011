"""POST /api/events on a full (507) or read-only (503) database: a JSON error, nothing recorded,
and the same request accepted once the storage is back. See tests/support/broken_storage.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.context import Context
from core.models.tenancy import NotificationSettingsUpdate
from core.services.notifications import update_notification_settings
from core.services.tenants import get_tenant
from tests.api.conftest import ADMIN, QUEUE_CALL_LOST, ApiClient, Tokens
from tests.support.broken_storage import BrokenStorage, ctx, settings, storage  # noqa: F401

EVENT = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}


@pytest.fixture
def configured(ctx: Context, tokens: Tokens) -> None:  # noqa: F811
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            changes=NotificationSettingsUpdate.parse(
                {
                    "server": "smtp.acme.org",
                    "auth": "DISABLE",
                    "mail_from": "pbx@acme.org",
                    "recipients": "ops@acme.org",
                    "notify_queue_call_lost": True,
                },
                system=False,
            ),
            actor=ADMIN,
        )
    ctx.box.encrypt_bytes(b"")  # the key file exists before the disk is full


@pytest.mark.parametrize(("trouble", "status"), [("full", 507), ("read-only", 503)])
async def test_post_event_answers_a_storage_error(
    trouble: str,
    status: int,
    configured: None,
    api: ApiClient,
    storage: BrokenStorage,  # noqa: F811
    db_dump: Callable[[], str],
) -> None:
    before = db_dump()
    storage.fill() if trouble == "full" else storage.read_only()

    answer = await api.post("/api/events", EVENT)

    assert answer.status == status
    assert set(answer.body) == {"error"}
    assert answer.body["error"].startswith(f"database is {trouble}: ")
    assert answer.body["error"].endswith("; nothing was recorded")
    assert "Traceback" not in answer.text and answer.headers["X-Request-Id"]
    storage.free() if trouble == "full" else storage.writable()
    assert db_dump() == before

    again = await api.post("/api/events", EVENT)
    assert again.status == 202, again.body
    assert len(again.body["deliveries"]) == 1
