"""The import graph of harvest/ has no cycles, and config sits at the bottom of it.

The graph is built from the source (the AST), not by importing anything. What counts as
an edge from module A to module B (both in harvest/):

- ``import harvest.b`` or ``from harvest.b import name`` (``from harvest import b`` when b
  is a module), absolute or relative;
- at module level, including inside ``try``/``if``/``with`` blocks and class bodies,
  but not inside ``if TYPE_CHECKING:`` (those imports never run);
- *lazy* imports inside functions are a second kind of edge. Module-level edges must form
  no cycle at all. Counting lazy edges too, the only cycles allowed are the few listed in
  ``LAZY_CYCLES``, each of which a function-level import keeps from biting at import time;
  a new one fails the test.

``importlib.import_module`` with a computed name (the connector registry loading built-in
connectors, harvest/connectors/registry.py) is not an edge.

``make lint`` runs this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

HARVEST = Path(__file__).resolve().parents[1] / "harvest"

# Cycles closed only by a function-level import, known and accepted (each one a module
# pair that works together: the store and its upgrade of the standard, an erasure and the
# queue of erasures waiting for a lock, the dashboard page and the figures it draws).
LAZY_CYCLES = [
    {"harvest.audit", "harvest.store", "harvest.upgrade"},
    {"harvest.dataprotection.erasure", "harvest.dataprotection.pending"},
    {"harvest.publish.dashboard", "harvest.publish.figures"},
]
# config.py may import these modules only, each of which imports nothing of harvest but
# errors.py and one another (the connector registry imports the connector protocol).
CONFIG_IMPORTS = {
    "harvest.config_types",
    "harvest.connectors.base",
    "harvest.connectors.registry",
    "harvest.errors",
    "harvest.normalise.standard",
    "harvest.publish.privacy",
}

Graph = dict[str, set[str]]


def modules(root: Path = HARVEST) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(body: list[ast.stmt], lazy: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if lazy:
                yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
        else:
            for name in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, name, None)
                if isinstance(inner, list):
                    yield from _imports(inner, lazy)


def _targets(name: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names} & known
    base = node.module or ""
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    found = set()
    for alias in node.names:
        full = f"{base}.{alias.name}"
        found.add(full if full in known else base)
    return found & known


def import_graph(lazy: bool, root: Path = HARVEST) -> Graph:
    """Module -> the harvest modules it imports (function-level imports too if ``lazy``)."""
    found = modules(root)
    known = set(found)
    graph: Graph = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {
            target
            for node in _imports(tree.body, lazy)
            for target in _targets(name, path, node, known)
            if target != name
        }
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
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
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(component: list[str], graph: Graph) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return f"cycle of {len(component)} modules: " + "; ".join(edges)


def test_no_module_level_import_cycle() -> None:
    graph = import_graph(lazy=False)
    assert len(graph) > 100  # the whole package was read
    found = cycles(graph)
    assert not found, "\n".join(_describe(c, graph) for c in found)


def test_function_level_imports_close_no_new_cycle() -> None:
    graph = import_graph(lazy=True)
    new = [c for c in cycles(graph) if not any(set(c) <= known for known in LAZY_CYCLES)]
    assert not new, "\n".join(_describe(c, graph) for c in new)


def test_config_imports_nothing_above_it() -> None:
    graph = import_graph(lazy=True)
    assert graph["harvest.config"] <= CONFIG_IMPORTS, sorted(graph["harvest.config"])
    for name in CONFIG_IMPORTS:
        assert graph[name] <= CONFIG_IMPORTS, (name, sorted(graph[name]))


def test_the_checker_finds_a_cycle_and_names_it(tmp_path: Path) -> None:
    """The old cycle, in miniature: config -> retention -> (lazily) sync -> config."""
    package = tmp_path / "harvest"
    (package / "dataprotection").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "dataprotection" / "__init__.py").write_text("")
    (package / "config.py").write_text(
        "from harvest.dataprotection.retention import RetentionConfig\n"
    )
    (package / "dataprotection" / "retention.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harvest import config\n"
        "def run():\n    from .. import sync\n"
    )
    (package / "sync.py").write_text("from . import config\n")
    assert cycles(import_graph(lazy=False, root=package)) == []
    graph = import_graph(lazy=True, root=package)
    found = cycles(graph)
    assert found == [["harvest.config", "harvest.dataprotection.retention", "harvest.sync"]]
    assert "harvest.dataprotection.retention -> harvest.sync" in _describe(found[0], graph)


# Private exceptions that never leave their connector module (a control-flow signal inside
# one reader); every exception a caller can see lives in harvest/errors.py.
PRIVATE_EXCEPTIONS = {
    "harvest.connectors.eventbrite._Missing",
    "harvest.connectors.microsoft_graph.Missing",
    "harvest.connectors.tabular.NoTable",
}


def test_every_exception_class_is_in_errors_py() -> None:
    outside = set()
    for name, path in modules().items():
        if name == "harvest.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            bases = [ast.unparse(b) for b in getattr(node, "bases", [])]
            if isinstance(node, ast.ClassDef) and any(
                b.endswith(("Error", "Exception")) for b in bases
            ):
                outside.add(f"{name}.{node.name}")
    assert outside == PRIVATE_EXCEPTIONS
