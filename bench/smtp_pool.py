"""Benchmark: SmtpPool (size 8) against raw aiosmtplib on 8 reused connections.

Both send the same pre-built messages to the same local aiosmtpd sink, which runs in its own
process (multiprocessing), so the sink's CPU is not the client's. Rounds alternate between the
variants; the best round of each is reported with its ratio to raw aiosmtplib (target ≥ 0.8).

    .venv/bin/python bench/smtp_pool.py [--messages 3000] [--recipients 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sinks import start_sink

CONNECTIONS = 8
SENDER = "bench@example.com"


def build_message(size: int = 2048) -> bytes:
    header = (
        f"From: Bench <{SENDER}>\r\nTo: a@example.org, b@example.org, c@example.org\r\n"
        "Subject: Queue SLA breached\r\nMessage-ID: <bench@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    line = "The queue waited longer than its service level allows.\r\n"
    body = line * max(1, (size - len(header)) // len(line))
    return (header + body).encode()


async def raw_aiosmtplib(port: int, total: int, recipients: list[str], message: bytes) -> float:
    import aiosmtplib

    clients = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench")
        for _ in range(CONNECTIONS)
    ]
    await asyncio.gather(*(client.connect() for client in clients))
    remaining = [total]

    async def worker(client: aiosmtplib.SMTP) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await client.sendmail(SENDER, recipients, message)

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(client.quit() for client in clients))
    return total / elapsed


async def pool_workers(port: int, total: int, recipients: list[str], message: bytes) -> float:
    """SmtpPool(size=8) driven by 8 sending tasks, as the worker drives it."""
    from core.mail.smtp import SmtpConfig, SmtpPool

    pool = SmtpPool(SmtpConfig("127.0.0.1", port, "none", "DISABLE"), size=CONNECTIONS)
    await _warm(pool, recipients, message)
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await pool.send(sender=SENDER, recipients=recipients, message=message)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return total / elapsed


async def pool_all_at_once(port: int, total: int, recipients: list[str], message: bytes) -> float:
    """Every send started at once: the pool's bound (8) does the queuing."""
    from core.mail.smtp import SmtpConfig, SmtpPool

    pool = SmtpPool(SmtpConfig("127.0.0.1", port, "none", "DISABLE"), size=CONNECTIONS)
    await _warm(pool, recipients, message)
    started = time.perf_counter()
    await asyncio.gather(
        *(pool.send(sender=SENDER, recipients=recipients, message=message) for _ in range(total))
    )
    elapsed = time.perf_counter() - started
    await pool.close()
    return total / elapsed


async def _warm(pool: object, recipients: list[str], message: bytes) -> None:
    """Open the 8 connections before the clock starts, as raw aiosmtplib's connect() does."""
    send = pool.send  # type: ignore[attr-defined]
    await asyncio.gather(
        *(send(sender=SENDER, recipients=recipients, message=message) for _ in range(CONNECTIONS))
    )


Variant = Callable[[int, int, list[str], bytes], Coroutine[Any, Any, float]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--recipients", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=2048, help="message size in bytes")
    args = parser.parse_args()

    sink, port = start_sink()
    recipients = [f"r{n}@example.org" for n in range(args.recipients)]
    message = build_message(args.size)
    variants: list[tuple[str, Variant]] = [
        (f"raw aiosmtplib, {CONNECTIONS} reused connections", raw_aiosmtplib),
        (f"SmtpPool(size={CONNECTIONS}), {CONNECTIONS} sending tasks", pool_workers),
        (f"SmtpPool(size={CONNECTIONS}), {args.messages} sends at once", pool_all_at_once),
    ]
    best = dict.fromkeys((name for name, _ in variants), 0.0)
    try:
        asyncio.run(raw_aiosmtplib(port, 300, recipients, message))  # warm the sink up
        for _ in range(args.rounds):
            for name, variant in variants:
                rate = asyncio.run(variant(port, args.messages, recipients, message))
                best[name] = max(best[name], rate)
    finally:
        sink.terminate()
        sink.join()

    baseline = best[variants[0][0]]
    print(
        f"SMTP send rate: {args.messages} messages to {args.recipients} recipients each, "
        f"{len(message)} bytes, aiosmtpd sink in its own process, best of {args.rounds} rounds"
    )
    print()
    width = max(len(name) for name in best)
    print(f"| {'variant'.ljust(width)} | messages/s | ratio |")
    print(f"| {'-' * width} | ---------: | ----: |")
    for name, rate in best.items():
        print(f"| {name.ljust(width)} | {rate:10.0f} | {rate / baseline:5.2f} |")


if __name__ == "__main__":
    main()
