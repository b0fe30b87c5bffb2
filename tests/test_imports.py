"""evalib has no import cycles, counting imports inside functions too.

Every module of the package is parsed with ``ast``; an edge A -> B is drawn for every
``import``/``from ... import`` in A (at any depth: a local import inside a function
still ties A to B) that names a module B of evalib. ``from evalib.scores import
baselines`` names the submodule ``evalib.scores.baselines``; ``from evalib.scores import
compute_scores`` names the package ``evalib.scores``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "evalib"

# Cycles that remain on purpose, each with the reason; none today.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the evalib modules it imports anywhere in its source}."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {m: set() for m in modules}

    def known(name: str | None) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package upwards
                    anchor = module.split(".") if is_package else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else known(base))
            graph[module].update(t for t in targets if t and t != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Every strongly connected group of two or more modules, as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_sees_local_and_relative_imports(tmp_path):
    pkg = tmp_path / "evalib"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from evalib.b import g\n    return g\n")
    (pkg / "b.py").write_text("import evalib.sub.c\n")
    (pkg / "sub" / "__init__.py").write_text("from .c import h\n")
    (pkg / "sub" / "c.py").write_text("from evalib import a\nfrom evalib.sub import d\n")
    (pkg / "sub" / "d.py").write_text("from .. import b\n")
    graph = import_graph(pkg)
    assert graph["evalib.a"] == {"evalib.b"}
    assert graph["evalib.b"] == {"evalib.sub.c"}
    assert graph["evalib.sub"] == {"evalib.sub.c"}
    assert graph["evalib.sub.c"] == {"evalib.a", "evalib.sub.d"}
    assert graph["evalib.sub.d"] == {"evalib.b"}
    assert cycles(graph) == [("evalib.a", "evalib.b", "evalib.sub.c", "evalib.sub.d")]


def test_evalib_has_no_import_cycles():
    graph = import_graph()
    assert {"evalib.executors", "evalib.experiments", "evalib.select"} <= set(graph)
    assert "evalib.executors" in graph["evalib.experiments"]
    assert {"evalib.config", "evalib.cache", "evalib.runner"} <= graph["evalib.experiments"]
    assert set(cycles(graph)) == KNOWN_CYCLES


def test_executors_know_nothing_of_the_runner():
    graph = import_graph()
    for module in (
        "evalib.executors",
        "evalib.executor_base",
        "evalib.packing",
        "evalib.ray_executor",
    ):
        reach, todo = set(), [module]
        while todo:
            for nxt in graph[todo.pop()] - reach:
                reach.add(nxt)
                todo.append(nxt)
        runner = {"evalib.experiments", "evalib.runner", "evalib.batch", "evalib.cache"}
        assert not runner & reach, module


def test_modules_along_the_data_path_import_downstream_only():
    """config knows nothing of the cache, the cache nothing of the runner, and none of
    the modules the facade ``experiments`` re-exports imports it back."""
    graph = import_graph()
    assert not {"evalib.cache", "evalib.runner", "evalib.batch"} & graph["evalib.config"]
    assert not {"evalib.runner", "evalib.batch", "evalib.notebook"} & graph["evalib.cache"]
    assert "evalib.batch" not in graph["evalib.runner"]
    for module in ("config", "cache", "costs", "runner", "batch", "rerun", "notebook", "stats"):
        assert "evalib.experiments" not in graph[f"evalib.{module}"], module
