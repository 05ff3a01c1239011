"""The arrows go one way: core never imports a front end; `mailbell --help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = (
    "textual",
    "slack_bolt",
    "slack_sdk",
    "aiohttp.web",
    "tui",
    "slackbot",
    "api",
    "mailbell",
)


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IN_CORE)


def test_core_source_imports_no_front_end() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "core").rglob("*.py")
        for name in _imported_names(path)
        if _forbidden(name)
    }
    assert not offenders


def test_importing_all_of_core_loads_no_front_end() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "core").rglob("*.py")
        if "migrations" not in path.parts
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name.removesuffix('.__init__'))\n"
        f"bad = [m for m in sys.modules if any(m == b or m.startswith(b + '.')"
        f" for b in {FORBIDDEN_IN_CORE!r})]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_help_does_not_import_heavy_modules() -> None:
    script = (
        "import sys\n"
        "from mailbell.cli import run\n"
        "code = run(['--help'])\n"
        "heavy = [m for m in ('textual', 'slack_bolt', 'slack_sdk', 'sqlalchemy', 'sqlmodel',"
        " 'aiosmtplib')"
        " if m in sys.modules]\n"
        "print(code, ','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.stderr.strip().splitlines()[-1] == "0", result.stderr
    assert "Usage" in result.stdout
