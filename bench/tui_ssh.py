"""The TUI over SSH (`mailbell ssh`): memory per session and time to first paint, next to the
TUI started locally in a pty, in the same run.

    .venv/bin/python bench/tui_ssh.py [--sessions 20] [--runs 5]

Builds a throwaway MAILBELL_HOME (tenants acme, with a mail server and recipients, and globex;
one tenant-admin key of acme per session), starts `mailbell ssh` on a free port, then measures:
- local first paint: `mailbell tui --as NAME` spawned directly in a pty of 80x24, until the
  screen (read by pyte) is the full first page: header, the page's data and the footer;
- SSH first paint, one session at a time: connect (asyncssh, key auth) until the same screen;
- SSH first paint with `--sessions` connecting at once (median and slowest);
- memory of each session process while all are open (PSS and RSS, /proc/PID/smaps_rollup),
  and the server's own growth (its PSS and RSS before the first session and with all open).
Prints a table; not part of the test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pty
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyte  # noqa: E402

from tests.support.ssh_console import connect  # noqa: E402
from tests.support.ssh_process import children, start_ssh  # noqa: E402

SIZE = (80, 24)
FIRST_PAGE = ("tenant acme", "Emails of recipients", "boss@acme.example", "^p palette")
BOUND_S = 120.0


def _painted(screen: pyte.Screen) -> bool:
    text = "\n".join(screen.display)
    return all(needle in text for needle in FIRST_PAGE)


def build_home(home: Path, sessions: int) -> list[Path]:
    """The database and one key of acme per session; the private key files."""
    os.environ["MAILBELL_HOME"] = str(home)
    from core.config import load_settings
    from core.context import build_context
    from tests.support.console_keys import add_console_key
    from tests.support.factories import TESTER
    from tests.tui.conftest import seed

    ctx = build_context(load_settings())
    seed(ctx, TESTER)
    paths = [
        add_console_key(ctx.settings, f"k{i:02d}", "tenant-admin", ["acme"]).private_path
        for i in range(sessions)
    ]
    ctx.close()
    return paths


def memory(pid: int) -> tuple[float, float]:
    """PSS and RSS of `pid`, in MB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Rss"):
                fields[name] = int(rest.split()[0])
    return fields["Pss"] / 1024, fields["Rss"] / 1024


async def local_first_paint(settled: list[tuple[float, float]]) -> float:
    """`mailbell tui --as k00` in a pty: spawn until the first page is on the screen; its
    memory (PSS, RSS) two seconds later is appended to `settled`."""
    from tui.ssh.child import set_window_size

    master, slave = pty.openpty()
    set_window_size(master, *SIZE)  # as the SSH server sizes a session's pty
    screen = pyte.Screen(*SIZE)
    stream = pyte.ByteStream(screen)
    env = {**os.environ, "TERM": "xterm-256color"}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mailbell", "tui", "--as", "k00",
        stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    try:
        while not _painted(screen):
            if time.perf_counter() - started > BOUND_S:
                raise RuntimeError("the local TUI never painted its first page")
            ready = asyncio.Event()
            loop.add_reader(master, ready.set)
            try:
                await asyncio.wait_for(ready.wait(), 1.0)
            except TimeoutError:
                continue
            finally:
                loop.remove_reader(master)
            with contextlib.suppress(BlockingIOError, OSError):
                stream.feed(os.read(master, 65536))
        seconds = time.perf_counter() - started
        await asyncio.sleep(2.0)  # idle on its first page, as the SSH sessions are measured
        settled.append(memory(process.pid))
        return seconds
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        await process.wait()
        os.close(master)


class Session:
    """One SSH console session, timed from connect to its first page."""

    def __init__(self, port: int, key: Path) -> None:
        self.port = port
        self.key = key
        self.painted = asyncio.Event()
        self.seconds = 0.0
        self.close = asyncio.Event()

    async def run(self) -> None:
        started = time.perf_counter()
        async with connect(self.port, self.key) as conn:
            process = await conn.create_process(
                term_type="xterm-256color", term_size=SIZE, encoding=None
            )
            screen = pyte.Screen(*SIZE)
            stream = pyte.ByteStream(screen)

            async def read() -> None:
                while data := await process.stdout.read(65536):
                    stream.feed(data)
                    if not self.painted.is_set() and _painted(screen):
                        self.seconds = time.perf_counter() - started
                        self.painted.set()

            reader = asyncio.create_task(read())
            await asyncio.wait_for(self.painted.wait(), BOUND_S)
            await self.close.wait()
            process.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 10)


async def ssh_first_paint(port: int, key: Path) -> float:
    session = Session(port, key)
    session.close.set()
    await session.run()
    return session.seconds


async def main_async(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    os.environ.pop("MAILBELL_DATABASE_URL", None)  # the throwaway SQLite database only
    home = Path(tempfile.mkdtemp(prefix="mailbell-tui-ssh-"))
    keys = build_home(home, args.sessions)
    server, port, _ = await start_ssh(BOUND_S)
    try:
        local, single = [], []
        local_memory: list[tuple[float, float]] = []
        for _ in range(args.runs):  # alternated, so a change of the machine's load hits both
            local.append(await local_first_paint(local_memory))
            single.append(await ssh_first_paint(port, keys[0]))
        await asyncio.sleep(1.0)  # the last session's child reaped
        server_before = memory(server.pid)
        sessions = [Session(port, key) for key in keys]
        tasks = [asyncio.create_task(s.run()) for s in sessions]
        await asyncio.gather(*(s.painted.wait() for s in sessions))
        await asyncio.sleep(2.0)  # every session idle on its first page
        pids = children(server.pid)
        per_child = [memory(pid) for pid in pids]
        server_with = memory(server.pid)
        for session in sessions:
            session.close.set()
        await asyncio.gather(*tasks)
    finally:
        server.terminate()
        await server.wait()
        shutil.rmtree(home, ignore_errors=True)
    concurrent = [s.seconds for s in sessions]
    pss = [m[0] for m in per_child]
    rss = [m[1] for m in per_child]
    ms = 1000.0
    rows = [
        ("local first paint, `mailbell tui --as` in a pty (median)",
         f"{statistics.median(local) * ms:.0f} ms", f"{args.runs} runs"),
        ("SSH first paint, one session (median)",
         f"{statistics.median(single) * ms:.0f} ms", f"{args.runs} runs"),
        (f"SSH first paint, {args.sessions} at once (median / slowest)",
         f"{statistics.median(concurrent) * ms:.0f} / {max(concurrent) * ms:.0f} ms", ""),
        ("local TUI process PSS / RSS (median)",
         f"{statistics.median(m[0] for m in local_memory):.1f} / "
         f"{statistics.median(m[1] for m in local_memory):.1f} MB", ""),
        ("session process PSS (median / max)",
         f"{statistics.median(pss):.1f} / {max(pss):.1f} MB", f"{len(pids)} processes"),
        ("session process RSS (median / max)",
         f"{statistics.median(rss):.1f} / {max(rss):.1f} MB", ""),
        (f"server PSS / RSS, idle -> {args.sessions} sessions",
         f"{server_before[0]:.1f} -> {server_with[0]:.1f} / "
         f"{server_before[1]:.1f} -> {server_with[1]:.1f} MB",
         f"+{(server_with[1] - server_before[1]) / args.sessions * 1024:.0f} KB RSS a session"),
    ]  # fmt: skip
    print(f"TUI over SSH: {args.sessions} sessions, {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} CPUs, "
          f"load {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label.ljust(width)}  {value:>22}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
