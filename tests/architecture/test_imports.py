"""The structure the folder tree promises (docs/architecture.md), checked on the source:

- layers: ``pricing_data`` imports no other package of the project, ``forecasting`` only
  ``pricing_data``; ``planner`` may import both;
- the library never imports the command line (``planner.commands``, ``planner.cli``) or click;
- no import cycle among the modules, counting deferred (function-level) imports too, which are how
  cycles hide; imports under ``if TYPE_CHECKING:`` do not run and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("pricing_data", "forecasting", "planner")
ALLOWED = {
    "pricing_data": {"pricing_data"},
    "forecasting": {"forecasting", "pricing_data"},
    "planner": {"planner", "forecasting", "pricing_data"},
}
CLI_MODULES = ("planner.commands", "planner.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(path)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Project modules ``path`` imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES or name == "click" or name.startswith("click."):
                found.add(name)
    return found


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (a module, or a package's __init__)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {
    mod: {r for n in _imports(path) if (r := _resolve(n)) is not None and r != mod}
    for mod, path in MODULES.items()
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layers(module: str) -> None:
    pkg = module.split(".")[0]
    wrong = sorted(
        n
        for n in _imports(MODULES[module])
        if n.split(".")[0] in PACKAGES and n.split(".")[0] not in ALLOWED[pkg]
    )
    assert not wrong, f"{module} ({pkg}) imports {wrong}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(CLI_MODULES)))
def test_the_library_does_not_import_the_command_line(module: str) -> None:
    cli = sorted(
        n
        for n in _imports(MODULES[module])
        if n.startswith(CLI_MODULES) or n.split(".")[0] == "click"
    )
    assert not cli, f"library module {module} imports {cli}"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert _cycles() == []
