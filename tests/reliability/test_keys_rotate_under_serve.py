"""`mailbell keys rotate` from the command line while `mailbell serve` runs with queued mail.

The CLI puts a new key first in the key file and re-seals every secret under it (the server's
password, the queued message, the event payload). The running serve had read the old file; it
encrypts nothing new meanwhile, but must open what the CLI re-sealed: the queued mail is
delivered, `test_email` answers 200, and nothing else is sent. SIGHUP then reads the ring again.

Real parts: `mailbell serve` and `mailbell keys rotate` as processes, an aiosmtpd server with
STARTTLS and AUTH, PostgreSQL (this directory runs in the PostgreSQL pass).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import update
from sqlmodel import col

from core.context import Context
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.services.audit import Actor
from core.services.tokens import create_token
from tests.api.serve_process import ROOT, ServeProcess
from tests.support.factories import emit_event, make_configured_tenant
from tests.support.fixtures import smtp_servers, tls_certs  # noqa: F401
from tests.support.smtp_handlers import CaptureHandler
from tests.support.smtp_servers import SmtpTestServer

ACTOR = Actor(name="test", source="cli")


class Gate(CaptureHandler):
    """Answers 451 at DATA (counting the attempts) until `open` is set, then captures."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.refused = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.open.is_set():
            with self._lock:
                self.refused += 1
            return "451 4.3.0 not now"
        return await super().handle_DATA(server, session, envelope)


def _until(condition: Callable[[], bool], what: str, serve: ServeProcess, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{serve.logs}"
        time.sleep(0.05)


def _delivery(ctx: Context, delivery_id: int) -> Delivery:
    with ctx.session() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery


def _hold(ctx: Context, delivery_id: int) -> bool:
    """Make the queued (not in flight) delivery due in an hour; False while it is being sent."""
    with ctx.session() as session:
        result = session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.status) == "queued")
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def _release(ctx: Context, delivery_id: int) -> None:
    """Due now: the worker's backoff is not what this test is about."""
    with ctx.session() as session:
        session.execute(
            update(Delivery).where(col(Delivery.id) == delivery_id).values(next_attempt_at=utcnow())
        )
        session.commit()


def _post(url: str, body: Any, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_keys_rotated_by_the_cli_while_serve_runs(
    ctx: Context,
    smtp_servers: Callable[..., SmtpTestServer],  # noqa: F811
    tmp_path: Path,
) -> None:
    gate = Gate()
    sink = smtp_servers(mode="starttls", auth=True, handler=gate)
    with ctx.session() as session:
        tenant = make_configured_tenant(
            session,
            ctx.box,
            smtp=sink,
            server={"name": "main", "mail_from": "pbx@acme.org"},
            actor=ACTOR,
        )
        token = create_token(session=session, tenant=tenant, name="ci", actor=ACTOR).plaintext
        [delivery] = emit_event(session, ctx.box, tenant).deliveries
        delivery_id = delivery.id
    key_file = ctx.box.source.key_file
    old_key = key_file.read_text().split()

    with ServeProcess(log_path=tmp_path / "serve.log") as serve:
        # serve opened the password and the message with the old ring, and was refused.
        _until(lambda: gate.refused >= 1, "a first attempt", serve)
        _until(lambda: _hold(ctx, delivery_id), "the delivery held", serve)
        assert _delivery(ctx, delivery_id).status == "queued"

        rotated = subprocess.run(
            [sys.executable, "-m", "mailbell", "keys", "rotate"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert rotated.returncode == 0, rotated.stderr
        assert " secrets re-encrypted under the new primary key" in rotated.stdout
        new_key, *rest = key_file.read_text().split()
        assert rest == old_key
        gate.open.set()
        _release(ctx, delivery_id)

        received = gate.wait_for(1, timeout=20)
        assert len(received) == 1, f"the queued mail was not delivered\n{serve.logs}"
        message = received[0]
        _until(lambda: _delivery(ctx, delivery_id).status == "sent", "the delivery sent", serve)
        status, body = _post(
            f"{serve.url}/api/tenant/notification/test_email",
            {"recipient": "check@acme.org", "subject": "after rotation", "content": "still here"},
            token,
        )
        assert status == 200, (body, serve.logs)
        assert body["ok"] is True

        serve.process.send_signal(signal.SIGHUP)
        hup = f"SIGHUP: key ring reloaded from the key file {key_file} (2 key(s))"
        _until(lambda: hup in serve.logs, "the SIGHUP line", serve)
        code, _took = serve.terminate()
        logs = serve.logs

    assert code == 0, logs
    assert message.rcpt_tos == ["ops@acme.org"] and message.auth_user == "user@example.com"
    assert [m.subject for m in gate.messages] == [message.subject, "after rotation"]
    assert gate.messages[1].rcpt_tos == ["check@acme.org"]
    assert "SecretKeyError" not in logs and "cannot be decrypted" not in logs
    assert "key ring reloaded: the key file changed" in logs
    assert new_key not in logs and old_key[0] not in logs
