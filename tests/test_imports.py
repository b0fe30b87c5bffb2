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

import pytest

from evalib.layers import LAYERS, layer_of, may_import

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
    assert {"evalib.runs.executors", "evalib.runs.runner", "evalib.select"} <= set(graph)
    assert "evalib.runs.cache" in graph["evalib.runs.runner"]
    assert set(cycles(graph)) == KNOWN_CYCLES


def test_no_layer_imports_a_higher_one():
    """Every import edge, local imports included, runs down the table of
    :data:`evalib.layers.LAYERS` (or stays inside one layer)."""
    graph = import_graph()
    up = sorted((a, b) for a, grabbed in graph.items() for b in grabbed if not may_import(a, b))
    assert up == []
    assert {layer_of(m) for m in graph} == {layer.name for layer in LAYERS}


def test_the_layer_rule_reads_the_table():
    assert layer_of("evalib.select") == "method" and layer_of("evalib.scores.windows") == "method"
    assert layer_of("evalib.runs.cache") == "runs" and layer_of("evalib.book.plots.style") == "book"
    assert may_import("evalib.book.findings", "evalib.studies.claims")
    assert not may_import("evalib.runs.runner", "evalib.studies.stats")
    assert not may_import("evalib.data", "evalib.runs.config")
    with pytest.raises(ValueError, match="not a module of evalib"):
        layer_of("numpy.linalg")


def test_evalib_is_its_layers():
    """``ls evalib`` shows the layers: every subfolder is a layer or a package of the
    method layer (``scores``), and nothing else."""
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders == {layer.name for layer in LAYERS[1:]} | {"scores"}


def test_no_module_re_exports_another_modules_names():
    """A name is defined in one module: no module lists a name it imported in ``__all__``
    and nothing imports a name from a module that only imported it. A package may expose
    its own submodules' names (its API: ``evalib.scores.compute_scores``), nothing from
    outside itself."""
    modules = _modules()
    imported: dict[str, dict[str, str]] = {}
    for module, path in modules.items():
        names = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evalib"):
                for alias in node.names:
                    names[alias.asname or alias.name] = node.module
        imported[module] = names
    bad = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else None
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module in modules):
                continue
            source = node.module
            for alias in node.names:
                origin = imported[source].get(alias.name)
                if origin is None or f"{source}.{alias.name}" in modules:
                    continue  # defined there, or a submodule
                own = modules[source].name == "__init__.py" and origin.startswith(source + ".")
                if not own:
                    bad.append(f"{module} takes {alias.name} from {source} (defined in {origin})")
        del package
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                listed = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
                for name in listed & set(imported[module]):
                    origin = imported[module][name]
                    if path.name != "__init__.py" or not origin.startswith(module + "."):
                        bad.append(f"{module} lists {name} of {origin} in __all__")
    assert not bad, "\n".join(bad)


def test_executors_know_nothing_of_the_runner():
    graph = import_graph()
    for module in (
        "evalib.runs.executors",
        "evalib.runs.executor_base",
        "evalib.runs.packing",
        "evalib.runs.ray_executor",
    ):
        reach, todo = set(), [module]
        while todo:
            for nxt in graph[todo.pop()] - reach:
                reach.add(nxt)
                todo.append(nxt)
        runner = {
            "evalib.runs.runner",
            "evalib.runs.batch",
            "evalib.runs.cache",
        }
        assert not runner & reach, module


def test_modules_along_the_data_path_import_downstream_only():
    """config knows nothing of the cache, the cache nothing of the runner."""
    graph = import_graph()
    assert (
        not {"evalib.runs.cache", "evalib.runs.runner", "evalib.runs.batch"}
        & graph["evalib.runs.config"]
    )
    assert not {"evalib.runs.runner", "evalib.runs.batch"} & graph["evalib.runs.cache"]
    assert "evalib.runs.batch" not in graph["evalib.runs.runner"]


def test_no_module_imports_a_name_only_to_expose_it():
    """Every name a module (other than a package's ``__init__``) imports from evalib is
    used in that module: an unused import would be a second name for the thing."""
    bad = []
    for module, path in _modules().items():
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        imported = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evalib"):
                for alias in node.names:
                    imported[alias.asname or alias.name] = node.module
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {
            n.value.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
        }
        strings = " ".join(
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        )
        for name, origin in imported.items():
            if name not in used and name not in strings:
                bad.append(f"{module} imports {name} from {origin} without using it")
    assert not bad, "\n".join(bad)
