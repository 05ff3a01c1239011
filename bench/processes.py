"""What the benchmarks that start servers as subprocesses share: a free port, and where the CPU
went (a process's, PostgreSQL's, the whole machine's), read from Linux's /proc.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Field 2, the command name, may itself hold spaces and parentheses.
    return stat[stat.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system CPU seconds of a process so far (with `with_children`, also of the children
    it has reaped); 0 if it is gone or there is no /proc."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(data_dir: Path) -> float:
    """CPU seconds of the postmaster and every backend, live or exited (an exited backend is
    reaped, so it counts in the postmaster's children time)."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster, with_children=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += cpu_seconds(int(entry.name))
    return total


def cpu_layouts(server_pid: int) -> dict[str, Callable[[], None]]:
    """Ways to place a local server and this process (and the threads and processes it starts
    afterwards) on the CPUs, by name:

    - "apart": the server on one CPU, this process on the others, as when the server is another
      machine: its CPU is not the client's, and the scheduler cannot trade one for the other;
    - "shared": both on every CPU (what an unconfigured run gets).

    Only "shared" without at least 2 CPUs or where the OS cannot pin (not Linux)."""
    if not hasattr(os, "sched_setaffinity"):
        return {"shared": lambda: None}
    cpus = sorted(os.sched_getaffinity(0))

    def place(server: set[int], client: set[int]) -> Callable[[], None]:
        def apply() -> None:
            os.sched_setaffinity(server_pid, server)
            os.sched_setaffinity(0, client)

        return apply

    layouts = {"shared": place(set(cpus), set(cpus))}
    if len(cpus) >= 2:
        layouts = {"apart": place({cpus[0]}, set(cpus[1:])), **layouts}
    return layouts
