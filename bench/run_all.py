"""Run every benchmark of the project and write bench/RESULTS.md.

Each benchmark prints its own table, every figure next to its baseline measured in the same
run; this script runs them one after another (nothing else should load the machine meanwhile)
and collects the tables, so the numbers quoted in the README come from one command:

    .venv/bin/python bench/run_all.py [--only render,pipeline] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# name: (script, full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "render": ("render.py", [], []),
    "smtp_pool": ("smtp_pool.py", [], ["--messages", "1000"]),
    "pipeline": ("pipeline.py", [], ["--drain", "2000", "--seconds", "5", "--scale", "20000"]),
    "api": ("api.py", [], []),
    "slack": ("slack.py", [], []),
    "slack_home": ("slack_home.py", [], ["--quick"]),
    "overview": ("overview.py", [], ["--quick"]),
    "webhook": ("webhook.py", [], ["--deliveries", "1000"]),
    "imap": ("imap_sync.py", [], []),
    "tui_start": ("tui_start.py", [], []),
    "tui_ssh": ("tui_ssh.py", [], ["--sessions", "5", "--runs", "2"]),
    "health": ("health_bench.py", [], ["--servers", "200", "--drain", "1000", "--rounds", "2"]),
    "recipient_modes": (
        "recipient_mode_bench.py",
        [],
        ["--events", "300", "--rounds", "1"],
    ),
    "digest": ("digest_bench.py", [], ["--events", "500", "--rounds", "1"]),
    "scale_out": (
        "scale_out.py",
        ["--sizes", "2000,8000", "--sink", "aiosmtpd,light"],
        ["--sizes", "600,2000"],
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default="", help="comma-separated names: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    sections = []
    load_before = f"{os.getloadavg()[0]:.1f}"
    for name in names:
        script, full, quick = BENCHMARKS[name]
        if not (BENCH / script).exists():
            sections.append(f"## {name}\n\n(not present: bench/{script})\n")
            continue
        command = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        output = result.stdout.strip() or "(no output)"
        if result.returncode != 0:
            output += f"\n\nexit {result.returncode}:\n{result.stderr.strip()[-2000:]}"
        print(output, flush=True)
        sections.append(f"## {name}\n\n`bench/{script}`, {elapsed:.0f} s\n\n```\n{output}\n```\n")
    load_after = f"{os.getloadavg()[0]:.1f}"
    header = (
        "# Benchmark results\n\n"
        f"Written by `bench/run_all.py` on {datetime.date.today()}: {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load_before} before the "
        f"run and {load_after} after it. Ratios compare with a baseline measured in the same "
        "run.\n"
    )
    args.output.write_text(header + "\n" + "\n".join(sections))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
