"""`mailbell demo`: the TUI on a throwaway database, with demo data and a local capture server.

Everything lives in a temporary MAILBELL_HOME that is removed on exit (`--keep` keeps it).
The system mail server is a tiny SMTP server on 127.0.0.1 that accepts every message and
stores it as a file (the TUI's Captured page shows them); recipients whose local part starts
with "bounce" are refused with 550, so a failed delivery can be watched and retried. A
delivery worker runs inside the TUI process, as `mailbell serve` would run it. Three of the
seeded events bounce in a row, and the Health page shows what the health watch makes of that
(a warning on the capture server's deliveries), recorded at seed time so that it shows at once.

Mount with `app.command("demo")(demo.demo)`. Core and Textual are imported inside functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.context import Context
    from core.models.mail import MailServerRead

HOST = "127.0.0.1"
DOMAIN = "demo.example"
MAX_MESSAGE = 10 * 1024 * 1024
BOUNCE_PREFIX = "bounce"
# Permanent failures in a row that make a server's deliveries a warning (docs/health.md).
BOUNCES = 3


class CaptureServer:
    """A capture SMTP server (no TLS, no AUTH) in its own thread and event loop."""

    def __init__(self, folder: Path, host: str = HOST, port: int = 0) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self._counter = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-smtp", daemon=True)

    def start(self) -> CaptureServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        if not self._ready.wait(5) or self._server is None:
            raise RuntimeError("the demo capture server did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(2)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(2)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._session, self.host, self.port)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        finally:
            self._ready.set()
        loop.run_forever()
        loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender: str | None = None
        recipients: list[str] = []
        try:
            await reply("220 mailbell-demo ESMTP capture server")
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    await reply(
                        "250-mailbell-demo\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                        f"250 SIZE {MAX_MESSAGE}"
                    )
                elif verb == "HELO":
                    await reply("250 mailbell-demo")
                elif verb == "MAIL":
                    sender, recipients = _address(arg), []
                    await reply("250 2.1.0 OK")
                elif verb == "RCPT":
                    if sender is None:
                        await reply("503 5.5.1 MAIL first")
                        continue
                    address = _address(arg)
                    if address.lower().startswith(BOUNCE_PREFIX):
                        await reply(f"550 5.1.1 <{address}>: no such user (demo bounce)")
                        continue
                    recipients.append(address)
                    await reply("250 2.1.5 OK")
                elif verb == "DATA":
                    if not recipients:
                        await reply("554 5.5.1 no valid recipients")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    name = self._store(await _read_data(reader))
                    await reply(f"250 2.0.0 OK: queued as {name}")
                    sender, recipients = None, []
                elif verb == "RSET":
                    sender, recipients = None, []
                    await reply("250 2.0.0 OK")
                elif verb == "NOOP":
                    await reply("250 2.0.0 OK")
                elif verb == "QUIT":
                    await reply("221 2.0.0 Bye")
                    break
                else:
                    await reply("502 5.5.2 command not recognized")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _store(self, data: bytes) -> str:
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._counter):05d}"
        (self.folder / f"{name}.eml").write_bytes(data)
        return name


def _address(arg: str) -> str:
    _, _, rest = arg.partition(":")
    return rest.strip().split(" ")[0].strip("<>")


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    lines = []
    size = 0
    while True:
        line = await reader.readline()
        if not line or line in (b".\r\n", b".\n"):
            break
        if line.startswith(b".."):
            line = line[1:]
        size += len(line)
        if size <= MAX_MESSAGE:
            lines.append(line)
    return b"".join(lines)


def seed(ctx: Context, port: int) -> None:
    """A demo tenant using the system server (the capture server), a second one with its own,
    a third with none of its own (the system's sends its mail too)."""
    from core.catalog import sample
    from core.models.mail import EmailAccountCreate, MailServerCreate
    from core.models.tenancy import NotificationSettingsUpdate
    from core.pipeline.emit import emit
    from core.services.accounts import create_email_account
    from core.services.audit import Actor
    from core.services.mail_servers import create_mail_server
    from core.services.notifications import update_notification_settings
    from core.services.templates import create_custom_template
    from core.services.tenants import create_tenant

    actor = Actor(name="demo", source="cli")
    server = {"host": HOST, "port": port, "security": "none", "auth": "DISABLE"}
    with ctx.session() as session:
        system = create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data=MailServerCreate.from_fields(
                {
                    "name": "Demo capture server",
                    **server,
                    "mail_from": f"mailbell demo <notifications@{DOMAIN}>",
                }
            ),
        )
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            changes=NotificationSettingsUpdate(
                apply_to_all_tenants=True, recipients=[f"ops@{DOMAIN}"]
            ),
        )
        demo = create_tenant(session=session, slug="demo", name="Demo Company", actor=actor)
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=demo,
            actor=actor,
            changes=NotificationSettingsUpdate(
                recipients=[f"admin@{DOMAIN}", f"support@{DOMAIN}"],
                notify_queue_sla_breached=True,
                notify_queue_call_lost=True,
                notify_user_registration=True,
            ),
        )
        create_custom_template(
            session=session,
            tenant=demo,
            name="QUEUE_SLA",
            actor=actor,
            subject="[Demo] SLA breached in {{ queue_name }} after {{ waiting_seconds|duration }}",
        )
        globex = create_tenant(session=session, slug="globex", name="Globex", actor=actor)
        own = create_mail_server(
            session=session,
            box=ctx.box,
            tenant=globex,
            actor=actor,
            data=MailServerCreate.from_fields(
                {"name": "Globex relay", **server, "mail_from": f"alerts@globex.{DOMAIN}"}
            ),
        )
        create_email_account(
            session=session,
            box=ctx.box,
            tenant=globex,
            actor=actor,
            data=EmailAccountCreate(
                email=f"support@globex.{DOMAIN}",
                display_name="Support inbox",
                mail_server_id=own.id,
                is_default=True,
            ),
        )
        # No server of its own: the system's sends its mail (applied to all tenants); the
        # Tenants page says so in the row, from the effective-server rule, not in the name.
        create_tenant(session=session, slug="initech", name="Initech", actor=actor)
        for name in ("QUEUE_SLA", "QUEUE_CALL_LOST"):
            emit(session=session, box=ctx.box, tenant=demo, event=name, data=sample(name))
        emit(session=session, box=ctx.box, tenant=None, event="DISK_LOW", data=sample("DISK_LOW"))
        for n in range(1, BOUNCES + 1):
            bounce = {**sample("VOICEMAIL_RECEIVED"), "email": f"{BOUNCE_PREFIX}{n}@{DOMAIN}"}
            emit(session=session, box=ctx.box, tenant=demo, event="VOICEMAIL_RECEIVED", data=bounce)
        seed_health(ctx, session, system_server=system, globex_server=own, globex_id=globex.id)


def seed_health(
    ctx: Context,
    session: Session,
    *,
    system_server: MailServerRead,
    globex_server: MailServerRead,
    globex_id: int | None,
) -> None:
    """What two passes of the health watch find in the demo (two agreeing results each), so
    that the Health page has something to show without waiting for `serve`'s interval."""
    from core.health.store import CheckResult, record_results
    from core.models._common import utcnow
    from core.vocabulary import HealthKind, HealthState

    ok, server = HealthState.OK, HealthKind.MAIL_SERVER
    system_id, own = system_server.id, globex_server  # short names keep the rows short
    bounced = f"550 5.1.1 <{BOUNCE_PREFIX}{BOUNCES}@{DOMAIN}>: no such user (demo bounce)"
    retry = (
        "see the failures with `mailbell deliveries list --status failed`, "
        f"then `mailbell server test {system_id}`"
    )
    results = [
        CheckResult(f"mail_server:{system_id}", server, None, system_server.name, ok,
                    "every step passed", {"server_id": system_id, "action": "none"}),
        CheckResult(f"deliveries:server:{system_id}", server, None,
                    f"{system_server.name} deliveries", HealthState.WARNING,
                    f"{BOUNCES} deliveries in a row failed for good; last error: {bounced}",
                    {"server_id": system_id, "action": retry}),
        CheckResult(f"mail_server:{own.id}", server, globex_id, own.name, ok,
                    "every step passed", {"server_id": own.id, "action": "none"}),
        CheckResult("service:database", HealthKind.SERVICE, None, "database", ok,
                    "the database takes writes"),
    ]  # fmt: skip
    now = utcnow()
    for at in (now - timedelta(minutes=1), now):
        record_results(session, results, now=at, remind_s=ctx.settings.health_remind_s)
    session.commit()


def demo(
    keep: bool = typer.Option(False, "--keep", help="Keep the demo data directory on exit."),
) -> None:
    """The TUI on a throwaway database, with demo data and a local capture SMTP server."""
    from core.config import Settings
    from core.context import build_context
    from tui.app import DemoOptions, run_tui

    home = Path(tempfile.mkdtemp(prefix="mailbell-demo-"))
    capture = CaptureServer(home / "captured").start()
    ctx = None
    try:
        ctx = build_context(Settings(home=home, database_url=None, secret_keys=None))
        seed(ctx, capture.port)
        options = DemoOptions(capture_dir=capture.folder, capture_address=f"{HOST}:{capture.port}")
        run_tui(ctx, tenant_slug="demo", demo=options)
    finally:
        capture.stop()
        if ctx is not None:
            ctx.close()
        if keep:
            typer.echo(f"demo data kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
