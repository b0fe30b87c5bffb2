"""What the code writes into ``results/<profile>/``, read off the code itself.

The manifest is not a typed list: :func:`written_patterns` parses the notebooks, the
package, the benchmarks and the scripts with ``ast`` and collects every file path the code
builds under a results folder of a profile (to write it, or to read back what it wrote):

* ``S.out_dir() / "name.csv"`` (a notebook's tables, in ``results/<profile>/<dataset>/``);
* ``<cache>.results / "jobs" / f"{key}.json"`` (anything under a cache's results root);
* ``... / "results" / "<profile>" / "candidates"``, also through a module-level name.

String constants are kept, f-string fields and other expressions become ``*`` (one path
segment); a path whose last segment has no suffix is a folder and is left out.
:func:`unwritten` then lists the files of a results folder that no pattern matches: files
written by code that no longer exists, which no page or study produces.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Where :func:`written_patterns` looks for code, relative to the repository root.
SOURCES = ("notebooks/*.py", "evalib/**/*.py", "benchmarks/*.py", "scripts/*.py")


def _segments(node: ast.expr) -> list[str]:
    """The path segments of one operand of ``/``: a constant's parts, an f-string with
    ``*`` for each field, ``*`` for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [p for p in node.value.split("/") if p]
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            v.value if isinstance(v, ast.Constant) else "*" for v in node.values
        )  # fmt: skip
        return [p for p in text.split("/") if p]
    return ["*"]


def _chain(node: ast.expr) -> tuple[ast.expr, list[ast.expr]]:
    """``a / b / c`` -> (a, [b, c])."""
    parts: list[ast.expr] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        parts.insert(0, node.right)
        node = node.left
    return node, parts


def _base(node: ast.expr, names: dict[str, list[str]], profiles: set[str]) -> list[str] | None:
    """Segments under ``results/<profile>/`` that the base of a chain stands for, or None
    when it is not a results folder of a profile."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "out_dir" and not node.args:
            return ["*"]  # Setup.out_dir(): results/<profile>/<dataset>
    if isinstance(node, ast.Attribute) and node.attr == "results":
        return []  # a Cache's results root: results/<profile>
    if isinstance(node, ast.Name) and node.id in names:
        return list(names[node.id])
    return None


def _from_literal(base: ast.expr, parts: list[ast.expr], profiles: set[str]) -> list[str] | None:
    """``... / "results" / "<profile>" / rest``: the segments of ``rest``; None when the
    chain names no profile's results folder."""
    segs = [s for p in parts for s in _segments(p)]
    if "results" not in segs:
        return None
    after = segs[segs.index("results") + 1 :]
    if not after or (after[0] != "*" and after[0] not in profiles):
        return None  # results/scaling, results/class: not a profile
    return after[1:]


def _patterns_of(tree: ast.Module, profiles: set[str]) -> set[str]:
    names: dict[str, list[str]] = {}
    for stmt in tree.body:  # module-level names bound to a results folder
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):  # fmt: skip
            base, parts = _chain(stmt.value)
            segs = _from_literal(base, parts, profiles)
            if segs is not None:
                names[stmt.targets[0].id] = segs
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            inner.add(id(node.left))
    out = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)) or id(node) in inner:
            continue
        base, parts = _chain(node)
        head = _base(base, names, profiles)
        if head is None:
            segs = _from_literal(base, parts, profiles)
        else:
            segs = head + [s for p in parts for s in _segments(p)]
        if segs and "." in segs[-1]:  # a file (a folder's name has no suffix)
            out.add("/".join(segs))
    return out


def written_patterns(root: str | Path, profiles: Iterable[str] | None = None) -> set[str]:
    """Glob patterns (``*``: one path segment), relative to ``results/<profile>/``, of
    every file the code under ``root`` (:data:`SOURCES`) writes there, and evalib's output
    marker (:data:`evalib.io.MARKER`)."""
    from evalib.io import MARKER
    from evalib.runs.config import PROFILES

    known = set(PROFILES if profiles is None else profiles)
    out = {MARKER}
    for pattern in SOURCES:
        for path in sorted(Path(root).glob(pattern)):
            out |= _patterns_of(ast.parse(path.read_text(), str(path)), known)
    return out


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + "[^/]*".join(re.escape(p) for p in pattern.split("*")) + "$")


def unwritten(files: Iterable[str], patterns: Sequence[str] | set[str]) -> list[str]:
    """The ``files`` (paths relative to ``results/<profile>/``) that no pattern matches."""
    compiled = [_regex(p) for p in patterns]
    return sorted(f for f in files if not any(r.match(f) for r in compiled))
