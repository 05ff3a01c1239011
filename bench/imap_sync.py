"""IMAP sync speed against a local Dovecot: mailbell's `sync_account` next to raw aioimaplib.

    .venv/bin/python bench/imap_sync.py [--messages 2000] [--size 20000] [--runs 5]

Starts a throwaway Dovecot (tests/support/dovecot.py, implicit TLS), puts N messages of about
`size` bytes (text + HTML alternative, like a notification mail) into a fresh INBOX with IMAP
APPEND, and measures in one process:

- first sync: `sync_account` of all N messages (backfill limit lifted) into a fresh SQLite
  database: messages stored per second, bytes read from the server;
- incremental sync with 0 new messages, and with 10 new messages (median of `runs`).

Baselines, same server, same TLS, same process:
- raw aioimaplib, full messages: login, SELECT, `UID FETCH 1:* (BODY.PEEK[])` in batches
  (what a naive client downloads), nothing parsed or stored;
- raw aioimaplib, same items: the bounded items mailbell asks for (header, BODYSTRUCTURE, size,
  flags, first 8 KB of the text part), nothing parsed or stored;
- raw connect: connect, login, EXAMINE, logout: the floor of any incremental sync.
Targets: incremental sync with nothing new under 100 ms; first sync >= 200 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import email.message
import email.policy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aioimaplib import aioimaplib

from core.config import Settings
from core.context import build_context
from core.mail.imap import SyncLimits
from core.models.mail import EmailAccountCreate, MailServerCreate
from core.services.accounts import create_email_account
from core.services.audit import Actor
from core.services.inbound import sync_account
from core.services.mail_servers import create_mail_server
from core.services.tenants import create_tenant
from core.vocabulary import AuthMode
from tests.support.dovecot import DovecotServer, Mailbox, running_dovecot

BATCH = 100


def message(number: int, size: int) -> bytes:
    paragraph = f"Queue 'support' SLA breached: call {number} waited too long. " * 8 + "\n\n"
    text = (paragraph * (size // 2 // len(paragraph) + 1))[: size // 2]
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.split("\n\n")) + "</body>"
    mail = email.message.EmailMessage()
    mail["From"] = "PBX Notifications <noreply@pbx.example.com>"
    mail["To"] = "ops@acme.example"
    mail["Subject"] = f"[SLA] queue support, call {number}"
    mail["Message-ID"] = f"<bench-{number}-{time.time_ns()}@pbx.example.com>"
    mail["Date"] = email.utils.formatdate()
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail.as_bytes(policy=email.policy.SMTP)


def fill(mailbox: Mailbox, start: int, count: int, size: int) -> int:
    raw = [message(start + i, size) for i in range(count)]
    mailbox.append(*raw)
    return sum(map(len, raw))


async def raw_fetch(server: DovecotServer, mailbox: Mailbox, items: str) -> tuple[float, int]:
    """Seconds and bytes for a plain aioimaplib download of every message."""
    context = server.certs.client_context()
    started = time.perf_counter()
    client = aioimaplib.IMAP4_SSL(server.host, server.tls_port, ssl_context=context, timeout=60)
    await client.wait_hello_from_server()
    await client.login(mailbox.user, mailbox.password)
    selected = await client.select("INBOX")
    exists = aioimaplib.extract_exists(selected) or 0
    received = 0
    for first in range(1, exists + 1, BATCH):
        last = min(first + BATCH - 1, exists)
        response = await client.uid("fetch", f"{first}:{last}", items)
        received += sum(len(line) for line in response.lines)
    await client.logout()
    return time.perf_counter() - started, received


async def raw_connect(server: DovecotServer, mailbox: Mailbox) -> float:
    context = server.certs.client_context()
    started = time.perf_counter()
    client = aioimaplib.IMAP4_SSL(server.host, server.tls_port, ssl_context=context, timeout=60)
    await client.wait_hello_from_server()
    await client.login(mailbox.user, mailbox.password)
    await client.protocol.simple_command("EXAMINE", "INBOX")
    await client.logout()
    return time.perf_counter() - started


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=20_000, help="approximate message size")
    parser.add_argument("--runs", type=int, default=5, help="runs of each incremental case")
    args = parser.parse_args()

    with running_dovecot() as server, tempfile.TemporaryDirectory() as home:
        os.environ["SSL_CERT_FILE"] = str(server.certs.ca_file)
        server.add_user("bench", "bench-password")
        mailbox = Mailbox(server, "bench", "bench-password")
        started = time.perf_counter()
        total_bytes = fill(mailbox, 0, args.messages, args.size)
        took = time.perf_counter() - started
        print(
            f"Dovecot {server.host}:{server.tls_port} (TLS): appended {args.messages} messages, "
            f"{total_bytes / args.messages / 1000:.1f} KB each, in {took:.1f} s"
        )
        ctx = build_context(Settings(home=Path(home)))
        actor = Actor(name="bench", source="cli")
        with ctx.session() as session:
            tenant = create_tenant(session=session, slug="bench", actor=actor)
            out = create_mail_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=MailServerCreate(
                    name="out",
                    host="smtp.example.org",
                    auth=AuthMode.DISABLE,
                    mail_from="bench@example.org",
                ),
                actor=actor,
            )
            account = create_email_account(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=EmailAccountCreate(
                    email="bench@example.org",
                    display_name="Bench",
                    mail_server_id=out.id,
                    imap_host=server.host,
                    imap_port=server.tls_port,
                    imap_username="bench",
                    imap_password="bench-password",
                ),
                actor=actor,
            )
            assert account.id is not None
            account_id = account.id
        limits = SyncLimits(backfill_messages=0)  # all of them, whatever the 500 default says

        async def run() -> None:
            first = await sync_account(ctx=ctx, account_id=account_id, limits=limits)
            assert first.ok and first.fetched == args.messages, first
            zero = []
            for _ in range(args.runs):
                result = await sync_account(ctx=ctx, account_id=account_id)
                assert result.ok and result.fetched == 0, result
                zero.append(result.duration_s)
            ten = []
            for run_number in range(args.runs):
                fill(mailbox, args.messages + 10 * run_number, 10, args.size)
                result = await sync_account(ctx=ctx, account_id=account_id)
                assert result.ok and result.fetched == 10, result
                ten.append(result.duration_s)
            full_s, full_bytes = await raw_fetch(server, mailbox, "(UID BODY.PEEK[])")
            same_items = (
                "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER]<0.65536> "
                "BODY.PEEK[1]<0.8192>)"
            )
            same_s, same_bytes = await raw_fetch(server, mailbox, same_items)
            connects = [await raw_connect(server, mailbox) for _ in range(args.runs)]
            n = args.messages + 10 * args.runs
            ours = args.messages / first.duration_s
            rows = [
                ("first sync, mailbell", f"{ours:,.0f} msg/s", f"{first.duration_s:.2f} s",
                 f"{first.bytes_received / 1e6:.1f} MB", "1.00"),
                ("  raw aioimaplib, full messages", f"{n / full_s:,.0f} msg/s", f"{full_s:.2f} s",
                 f"{full_bytes / 1e6:.1f} MB", f"{ours / (n / full_s):.2f}"),
                ("  raw aioimaplib, same items", f"{n / same_s:,.0f} msg/s", f"{same_s:.2f} s",
                 f"{same_bytes / 1e6:.1f} MB", f"{ours / (n / same_s):.2f}"),
                ("incremental, 0 new", "", median_ms(zero), "", ""),
                ("incremental, 10 new", "", median_ms(ten), "", ""),
                ("  raw connect+login+EXAMINE", "", median_ms(connects), "", ""),
            ]  # fmt: skip
            header = ("case", "rate", "time", "read", "mailbell/raw")
            widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
            print()
            for row in [header, *rows]:
                print(
                    "  ".join(
                        str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
                    )
                )
            verdict_zero = "met" if statistics.median(zero) < 0.100 else "MISSED"
            print()
            print(f"target: incremental with nothing new < 100 ms: {verdict_zero}")
            print(f"target: first sync >= 200 msg/s: {'met' if ours >= 200 else 'MISSED'}")
            print(
                "(raw rows fetch every message again, N = "
                f"{n}; the ratio compares messages per second)"
            )

        asyncio.run(run())
        ctx.close()


if __name__ == "__main__":
    main()
