"""No import cycle among cyclr's core modules, counting the imports inside functions too.

The graph is read from the source (``ast``): every ``import`` and ``from ... import`` of a
module, at its top or in any function, except those under ``if TYPE_CHECKING:`` (never
run). ``from package import name`` leads to ``package.name`` when that is a module, else
to ``package``.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import pathlib

import pytest

SRC = pathlib.Path(__file__).parents[2] / "src"
#: The framework adapters and the app built on them, left out of the core's test.
ADAPTERS = ("cyclr.torch", "cyclr.keras", "cyclr.lightning", "cyclr.jax", "cyclr.hf", "cyclr.app")
#: The command's application code and its command line, checked with the core they build on.
APP = ("cyclr.app", "cyclr.cli")


def module_names() -> dict[str, pathlib.Path]:
    """``{dotted name: file}`` of every module under src/cyclr."""
    found = {}
    for path in sorted((SRC / "cyclr").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree``, nested ones included, but not TYPE_CHECKING's."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: the cyclr modules it imports}``."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def is_core(name: str) -> bool:
    return not any(name == a or name.startswith(a + ".") for a in ADAPTERS)


def test_the_core_modules_import_no_cycle():
    graph = import_graph()
    core = {m: {t for t in ts if is_core(t)} for m, ts in graph.items() if is_core(m)}
    assert "cyclr.rangetest.result" in core and "cyclr.cyclic" in core
    assert cycles(core) == []


def is_app(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in APP)


def test_the_app_and_the_cli_import_no_cycle():
    graph = import_graph()
    kept = {m for m in graph if is_core(m) or is_app(m)}
    app = {m: graph[m] & kept for m in kept}
    assert "cyclr.app.workflow" in app and "cyclr.app.session" in app and "cyclr.cli" in app
    assert cycles(app) == []


def test_the_graph_sees_imports_inside_functions():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import a\n"
        "def f():\n    from b import c\n"
    )
    found = sorted(n.module or "" for n in _imports(tree) if isinstance(n, ast.ImportFrom))
    assert found == ["b", "typing"]
    assert not any(isinstance(n, ast.Import) for n in _imports(tree))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


RANGETEST_MODULES = sorted(m for m in module_names() if m.startswith("cyclr.rangetest"))


@pytest.mark.parametrize("module", RANGETEST_MODULES)
def test_the_doctests_of_every_rangetest_module(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0
