"""CCS's strata, two ways: the paper's equal-width bins over [min, max] (what
:func:`evalib.select.ccs_sample` does) against the CCS code's bins over
[min, max × 1.0001) (``stratified_sampling`` in the CCS repository: ``step = (max *
1.0001 - min) / k``, stratum i holds ``start <= s < start + step``).

The code's wider top edge makes every bin a little wider, so samples near a bin edge
fall one stratum lower, and water-filling then splits the budget over other stratum
sizes. :func:`compare` counts both effects on the same scores; the method page shows the
counts for the committed class dynamics (through :mod:`evalib.book.booktext`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalib.ranking import rank
from evalib.select import ccs_beta, water_fill

CODE_UPPER = 1.0001  # the CCS code's factor on the top edge of its last stratum


def strata(scores: np.ndarray, n_strata: int = 50, upper: float = 1.0) -> np.ndarray:
    """Stratum of each of ``scores`` ([N] finite), equal-width bins from ``min`` to
    ``max × upper``: ``upper = 1`` is the paper's rule (the maximum joins the last
    stratum), ``CODE_UPPER`` the CCS code's (a score at or above the top edge, possible
    when ``max <= 0``, is in no stratum: -1). [N] int64."""
    s = np.asarray(scores, np.float64)
    lo, hi = float(s.min()), float(s.max())
    if upper == 1.0:
        if hi == lo:
            return np.zeros(s.size, np.int64)
        return np.minimum(((s - lo) / (hi - lo) * n_strata).astype(np.int64), n_strata - 1)
    step = (hi * upper - lo) / n_strata
    if step <= 0:
        return np.full(s.size, -1, np.int64)
    idx = np.floor((s - lo) / step).astype(np.int64)
    return np.where(idx < n_strata, idx, -1)


def budgets(which: np.ndarray, m: int, n_strata: int = 50) -> np.ndarray:
    """Water-filled budget of each stratum ([n_strata] int64) for a coreset of ``m``."""
    sizes = np.bincount(which[which >= 0], minlength=n_strata)
    return water_fill(sizes, m)


def compare(scores: np.ndarray, rates: Sequence[float], n_strata: int = 50) -> pd.DataFrame:
    """Per rate, on the same difficulty ``scores`` (low = hard, as AUM), after CCS's hard
    cutoff ``β = ccs_beta(rate)``: ``pool`` samples left, ``moved_samples`` of them in
    another stratum under the code's binning than under the paper's, ``m`` the coreset
    size (⌈rate · N⌉) and ``moved_budget`` the number of its places that water-filling
    gives to other strata (half the summed absolute difference of the two budgets)."""
    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s)]
    n = s.size
    rows = []
    for rate in rates:
        m = max(1, math.ceil(rate * n))
        beta = ccs_beta(rate)
        cut = min(math.floor(beta * n), n - m)
        pool = s[np.sort(rank(s, "lowest")[cut:])]
        paper, code = strata(pool, n_strata), strata(pool, n_strata, CODE_UPPER)
        moved = int(np.count_nonzero(paper != code))
        diff = np.abs(budgets(paper, m, n_strata) - budgets(code, m, n_strata)).sum()
        rows.append({"rate": float(rate), "beta": beta, "pool": int(pool.size), "m": m,
                     "moved_samples": moved, "moved_budget": int(diff) // 2})  # fmt: skip
    return pd.DataFrame(rows)
