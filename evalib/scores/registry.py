"""Method registry: name -> (score function, kept end, default parameters)."""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.scores import baselines as bl
from evalib.scores import eva_scores as ev

DIRECTIONS = ("highest", "lowest")


@dataclass(frozen=True)
class MethodInfo:
    """One scoring method.

    fn: ``fn(dynamics, **params) -> [N] float64``. direction: which end is kept,
    ``"highest"`` or ``"lowest"``. defaults: parameters used unless overridden. fixed:
    parameters this name pins (cannot be overridden). direction_param: for methods whose
    kept end depends on a parameter, ``(param, {value: direction})``.
    """

    name: str
    fn: Callable[..., np.ndarray]
    direction: str
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    direction_param: tuple[str, Mapping[Any, str]] | None = None

    def params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults + ``overrides`` + fixed, after checking the override names."""
        sig = inspect.signature(self.fn)
        allowed = [p for p in list(sig.parameters)[1:] if p not in self.fixed]
        bad = sorted(set(overrides) - set(allowed))
        if bad:
            raise EvalibError(
                f"method {self.name!r} has no parameter {', '.join(bad)} "
                f"(accepts: {', '.join(allowed) or 'none'})"
            )
        return {**self.defaults, **overrides, **self.fixed}

    def param_types(self) -> dict[str, Any]:
        """The declared type of every parameter this method accepts (from the annotations
        of its score function): ``int``, ``float``, ``str``, ``tuple[int, int]`` (a window),
        possibly ``| None``."""
        hints = typing.get_type_hints(self.fn)
        names = [p for p in list(inspect.signature(self.fn).parameters)[1:] if p not in self.fixed]
        return {name: hints.get(name, Any) for name in names}

    def resolve_direction(self, params: Mapping[str, Any] | None = None) -> str:
        if self.direction_param is None:
            return self.direction
        key, table = self.direction_param
        value = {**self.defaults, **(params or {})}.get(key)
        if value not in table:
            raise EvalibError(
                f"method {self.name!r}: {key} must be one of {sorted(table)}, got {value!r}"
            )
        return table[value]


_EVA_WINDOWS = {"early": ev.EARLY, "late": ev.LATE}


def _m(
    name: str, fn: Callable[..., np.ndarray], direction: str, description: str, **kw: Any
) -> MethodInfo:
    return MethodInfo(name, fn, direction, description, **kw)


_ALL = [
    _m("random", bl.random_scores, "highest", "seeded uniform scores", defaults={"seed": 0}),
    _m(
        "forgetting",
        bl.forgetting,
        "highest",
        "forgetting events (Toneva)",
        defaults={"never_learned": "zero"},
    ),
    _m(
        "entropy",
        bl.entropy,
        "highest",
        "entropy of the final eval-mode prediction (Coleman)",
        defaults={"source": "eval"},
    ),
    _m(
        "el2n",
        bl.el2n,
        "highest",
        "EL2N (CCS: sum of S over epochs [0, 10))",
        defaults={"variant": "ccs", "end": 10},
    ),
    _m(
        "aum",
        bl.aum,
        "lowest",
        "area under the logit margin (Pleiss)",
        defaults={"margin": "logit"},
    ),
    _m(
        "ccs",
        bl.aum,
        "lowest",
        "CCS difficulty = AUM (CCS: sum of probability margins)",
        defaults={"margin": "prob"},
    ),
    _m(
        "eva",
        ev.eva,
        "highest",
        "EVA, variant='paper' or 'official'",
        defaults={**_EVA_WINDOWS, "variant": "paper"},
    ),
    _m(
        "eva_paper",
        ev.eva_paper,
        "highest",
        "EVA as in the paper: V_early + V_late (ddof 0)",
        defaults=_EVA_WINDOWS,
    ),
    _m(
        "eva_official",
        ev.eva_official,
        "highest",
        "EVA as in the official code (ddof 1, normalised, weighted)",
        defaults={**_EVA_WINDOWS, "weight": 0.5},
    ),
    _m("exp_s", ev.exp_s, "highest", "EXP-S: window mean of S", defaults={"window": ev.EARLY}),
    _m("var_s", ev.var_s, "highest", "VAR-S: window variance of S", defaults={"window": ev.EARLY}),
    _m("exp_d", ev.exp_d, "highest", "EXP-D: sum of two window means of S", defaults=_EVA_WINDOWS),
    _m(
        "var_d",
        ev.var_d,
        "highest",
        "VAR-D: sum of two window variances of S (= EVA paper)",
        defaults=_EVA_WINDOWS,
    ),
    _m(
        "cartography_confidence",
        bl.cartography_score,
        "lowest",
        "mean p_y (keep lowest: hard-to-learn)",
        fixed={"measure": "confidence"},
    ),
    _m(
        "cartography_variability",
        bl.cartography_score,
        "highest",
        "std of p_y (keep highest: ambiguous)",
        fixed={"measure": "variability"},
    ),
    _m(
        "cartography_correctness",
        bl.cartography_score,
        "lowest",
        "fraction of epochs correct (keep lowest)",
        fixed={"measure": "correctness"},
    ),
    _m(
        "tdds",
        bl.tdds,
        "highest",
        "TDDS (Zhang et al. 2024)",
        defaults={"start": 0, "length": 30, "window": 10, "decay": 0.9},
    ),
    _m(
        "dad",
        bl.dad,
        "highest",
        "Dynamic Average Dice = windowed mean p_y; keep hard / easy / ambiguous (middle)",
        defaults={"keep": "ambiguous"},
        direction_param=("keep", {"hard": "lowest", "easy": "highest", "ambiguous": "highest"}),
    ),
]

METHODS: Mapping[str, MethodInfo] = MappingProxyType({m.name: m for m in _ALL})


def parse_param(name: str, text: str, declared: Any, flag: str = "-p") -> Any:
    """``text`` (as typed after ``name=``) converted to the ``declared`` type; a one-line
    EvalibError naming ``flag``, the parameter, the value and the type expected otherwise.
    ``None`` or ``none`` gives None where the type allows it."""
    text = text.strip()
    args = typing.get_args(declared)
    if typing.get_origin(declared) in (typing.Union, types.UnionType) and type(None) in args:
        if text.lower() == "none":
            return None
        declared = next(a for a in args if a is not type(None))
    where = f"{flag} {name}={text}"
    if declared is int:
        try:
            return int(text)
        except ValueError:
            raise EvalibError(f"{where}: {name} must be an integer") from None
    if declared is float:
        try:
            value = float(text)
        except ValueError:
            raise EvalibError(f"{where}: {name} must be a number") from None
        if not math.isfinite(value):
            raise EvalibError(f"{where}: {name} must be a finite number")
        return value
    if typing.get_origin(declared) is tuple and typing.get_args(declared) == (int, int):
        parts = text.split(",")
        try:
            a, b = (int(x) for x in parts)
        except ValueError:
            raise EvalibError(
                f"{where}: {name} must be an epoch window START,END (two integers, "
                "half-open), e.g. 0,10"
            ) from None
        return a, b
    if declared is str:
        return text
    parts = [_scalar(v) for v in text.split(",")]  # undeclared: best guess
    return tuple(parts) if len(parts) > 1 else parts[0]


def _scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def get_method(name: str) -> MethodInfo:
    """The registry entry for ``name``; EvalibError listing the known names otherwise."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise EvalibError(f"unknown method {name!r}; known: {', '.join(sorted(METHODS))}") from None


def direction(method: str, **params: Any) -> str:
    """Which end of ``method``'s scores is kept (``"highest"`` or ``"lowest"``)."""
    return get_method(method).resolve_direction(params)


def compute_scores(method: str, dynamics: Any, **params: Any) -> np.ndarray:
    """Scores [N] float64 of ``method`` on ``dynamics`` with defaults overridden by ``params``."""
    info = get_method(method)
    out = np.asarray(info.fn(dynamics, **info.params(params)), dtype=np.float64)
    if out.ndim != 1:
        raise EvalibError(f"method {method!r} returned shape {out.shape}, expected [N]")
    return out
