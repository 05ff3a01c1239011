"""The arrows go one way: core never imports a front end; `mailbell --help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping
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


PRODUCT = ("core", "api", "slackbot", "tui", "mailbell")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth (functions too); not those under
    `if TYPE_CHECKING:`, which only type checkers read."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                pending.extend(child.orelse)  # type: ignore[attr-defined]
            else:
                pending.append(child)
    return found


def _nearest(name: str, modules: Mapping[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module → the product modules it imports (`from a import b` names a.b when b is a module,
    else a)."""
    modules = {
        _module_name(path): path
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [_nearest(alias.name, modules) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    anchor = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{anchor}.{base}" if base else anchor
                targets = [
                    f"{base}.{alias.name}"
                    if f"{base}.{alias.name}" in modules
                    else _nearest(base, modules)
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other (Tarjan's strongly
    connected components, iteratively), as the path `a → b → … → a`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: Mapping[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no cycle in {sorted(group)}")


def test_the_import_graph_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


def test_no_module_of_the_product_imports_itself_back() -> None:
    found = [" → ".join(cycle) for cycle in cycles(import_graph())]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_tui_pages_reach_mailbell_through_tui_data_only() -> None:
    """Screens, widgets and the app read and write through tui/data; of core they import only
    the vocabulary (type-only imports aside)."""
    offenders = []
    for folder in ("tui/screens", "tui/widgets"):
        for path in (ROOT / folder).glob("*.py"):
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for node in _runtime_imports(ast.parse(path.read_text(), str(path)))
                for name in (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if (name == "core" or name.startswith("core.")) and name != "core.vocabulary"
            ]
    app = ROOT / "tui" / "app.py"
    offenders += [
        f"tui/app.py: {node.module}"
        for node in _runtime_imports(ast.parse(app.read_text(), str(app)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core.")
    ]
    assert not offenders
