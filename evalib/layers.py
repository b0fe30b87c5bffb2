"""The package's layers, lowest first: the one table that the layer test enforces and the
architecture page draws.

A module belongs to the layer of the first subpackage under ``evalib`` that names a layer
(``evalib.runs.cache`` is in ``runs``); every other module is in ``method``. A module may
import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

from typing import NamedTuple


class Layer(NamedTuple):
    name: str  # the subpackage (``method``: evalib's top-level modules)
    holds: str  # what it holds, in a line


LAYERS: tuple[Layer, ...] = (
    Layer(
        "method",
        "data, models, training with its recorder and checkpoints, dynamics, scores, selection",
    ),
    Layer("runs", "many jobs: configs and profiles, cache, runner, tasks, executors, costs, rerun"),
    Layer(
        "studies",
        "the paper's studies and the related systems as job lists, their tables and verdicts",
    ),
    Layer(
        "book", "what readers see: notebook entry point, figures, tables, generated text, reproduce"
    ),
    Layer("cli", "the evalib command"),
)
_RANK = {layer.name: i for i, layer in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    """The layer of a dotted module name of evalib (``evalib.runs.cache`` -> ``runs``)."""
    parts = module.split(".")
    if not parts or parts[0] != "evalib":
        raise ValueError(f"{module!r} is not a module of evalib")
    if len(parts) > 1 and parts[1] in _RANK:
        return parts[1]
    return "method"


def may_import(importer: str, imported: str) -> bool:
    """True when module ``importer`` may import module ``imported`` (same layer or lower)."""
    return _RANK[layer_of(imported)] <= _RANK[layer_of(importer)]
