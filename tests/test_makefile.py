"""`make run` on a fresh clone says what it is doing while it installs (issue #18)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, tmp_path: Path) -> list[str]:
    # A virtual environment that does not exist yet: make plans every step of a fresh clone, and
    # -n prints the recipes without running any of them (no install, no network).
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_make_run_announces_each_step_before_it_runs(tmp_path: Path) -> None:
    lines = _dry_run("run", tmp_path)
    venv_at = next(i for i, line in enumerate(lines) if "-m venv" in line)
    pip_at = next(i for i, line in enumerate(lines) if "pip" in line and " install " in line)
    tui_at = next(i for i, line in enumerate(lines) if line.endswith("mailbell tui"))

    def echoed_before(index: int, words: str) -> bool:
        return any(line.startswith("echo") and words in line for line in lines[:index])

    assert echoed_before(venv_at, "Creating the virtual environment")
    assert echoed_before(pip_at, "Installing mailbell")
    assert echoed_before(tui_at, "Starting the TUI")
    # pip's own progress shows during the long step: not silenced, the bar on even without a tty.
    assert "--quiet" not in lines[pip_at]
    assert "--progress-bar on" in lines[pip_at]


def test_make_install_test_stays_quiet_for_ci(tmp_path: Path) -> None:
    lines = _dry_run("install-test", tmp_path)
    pip_line = next(line for line in lines if "pip" in line and " install " in line)
    assert "--quiet" in pip_line
    assert ".[test]" in pip_line
