"""Budgets and top-k: how many samples a rate keeps, and which scores rank first.

Shared by :mod:`evalib.select` and :mod:`evalib.scores` (which :mod:`evalib.select`
imports), so it imports neither.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from evalib.errors import EvalibError


def budget(n: int, rate: float, rounding: str = "ceil") -> int:
    """Coreset size M for N samples at selection ``rate`` in (0, 1].

    ``rounding="ceil"``: M = ceil(rate * N) (the paper); ``"floor"``: floor(rate * N) (the
    official code). rate * N within 1e-9 of an integer counts as that integer, so that
    0.3 * 10 gives 3 either way. Raises EvalibError if M would be 0.
    """
    if rounding not in ("ceil", "floor"):
        raise EvalibError(f"rounding must be 'ceil' or 'floor', got {rounding!r}")
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise EvalibError(f"rate must be a number in (0, 1], got {rate!r}") from None
    if not 0.0 < rate <= 1.0:  # also rejects NaN
        raise EvalibError(f"rate must lie in (0, 1], got {rate}")
    n = int(n)
    if n < 1:
        raise EvalibError("cannot select from an empty set of samples")
    x = rate * n
    if abs(x - round(x)) <= 1e-9 * max(1.0, x):
        x = float(round(x))
    m = math.ceil(x) if rounding == "ceil" else math.floor(x)
    if m < 1:
        msg = f"rate {rate} of N = {n} samples rounds down to 0; use a larger rate or "
        raise EvalibError(msg + "rounding='ceil'", cli=msg + "--rounding ceil")
    return min(m, n)


def _check_direction(direction: str) -> str:
    if direction not in ("highest", "lowest"):
        raise EvalibError(f"direction must be 'highest' or 'lowest', got {direction!r}")
    return direction


def rank(scores: Any, direction: str) -> np.ndarray:
    """All N positions in priority order, [N] int64: best first, ties by index, NaN last."""
    s = np.asarray(scores, np.float64).reshape(-1)
    key = -s if _check_direction(direction) == "highest" else s
    return np.argsort(key, kind="stable").astype(np.int64)  # NaN sorts last, stably


def top_k(scores: Any, m: int, direction: str) -> np.ndarray:
    """The ``m`` best positions in priority order, [m] int64 (see :func:`rank`)."""
    n = np.asarray(scores).size
    if not 1 <= int(m) <= n:
        raise EvalibError(f"m must lie in [1, {n}], got {m}")
    return rank(scores, direction)[: int(m)]
