"""EVA (paper and official-code variants), its ablations, and selection-overlap helpers.

All scores are [N] float64 over the error norm S_t(i) = ||p_t(i) - onehot(y_i)||_2 (unitless,
in [0, sqrt(2)]); keep the highest. ``source`` is a Dynamics, or a :class:`WindowStats`
built once with ``WindowStats.from_dynamics`` to score many windows in O(N) each.
Windows are half-open epoch ranges ``(a, b)``, K = b - a >= 2; dual windows must be
ordered and non-overlapping (early end <= late start). Default windows are the only
setting published in the official code (OrganSMNIST, 30 %): early [0, 10), late [100, 110).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.ranking import budget, top_k
from evalib.scores.windows import Window, WindowStats, check_window, check_windows, stats_for

EARLY: Window = (0, 10)
LATE: Window = (100, 110)
Source = Dynamics | WindowStats


def exp_s(source: Source, window: Window = EARLY, *, missing: str | None = None) -> np.ndarray:
    """EXP-S: window mean E_[a,b)(i) of S, [N]."""
    st = stats_for(source, missing)
    a, b = check_window(window, st.num_epochs)
    return st.mean(a, b)


def var_s(
    source: Source, window: Window = EARLY, *, ddof: int = 0, missing: str | None = None
) -> np.ndarray:
    """VAR-S: window variance V_[a,b)(i) of S (population form by default), [N]."""
    st = stats_for(source, missing)
    a, b = check_window(window, st.num_epochs)
    return st.var(a, b, ddof)


def exp_d(
    source: Source, early: Window = EARLY, late: Window = LATE, *, missing: str | None = None
) -> np.ndarray:
    """EXP-D: E_early(i) + E_late(i), [N]."""
    st = stats_for(source, missing)
    e, lt = check_windows(early, late, st.num_epochs)
    return st.mean(*e) + st.mean(*lt)


def eva_paper(
    source: Source, early: Window = EARLY, late: Window = LATE, *, missing: str | None = None
) -> np.ndarray:
    """EVA as the paper writes it (Eq. 5-6) = VAR-D: V_early(i) + V_late(i), ddof 0, [N]."""
    st = stats_for(source, missing)
    e, lt = check_windows(early, late, st.num_epochs)
    return st.var(*e, ddof=0) + st.var(*lt, ddof=0)


var_d = eva_paper


def _normalised(v: np.ndarray, w: Window) -> np.ndarray:
    total = np.nansum(v)
    if not np.isfinite(total) or total <= 0:
        raise EvalibError(
            f"window [{w[0]}, {w[1]}) has zero total variance over samples; "
            "the official normalisation is undefined there, choose another window"
        )
    return v / total


def eva_official(
    source: Source,
    early: Window = EARLY,
    late: Window = LATE,
    *,
    weight: float = 0.5,
    missing: str | None = None,
) -> np.ndarray:
    """EVA as the official code computes it, [N].

    Unbiased variance (ddof 1) per window, each window's variance vector divided by its
    sum over samples, then ``weight * early + (1 - weight) * late``.

    Why it ranks differently from :func:`eva_paper`: the normalisation gives both windows
    the same total weight. The late window usually holds far less total variance (the
    network has converged), so each late-window variance is scaled up by a much larger
    factor; the official score is driven mostly by the late window while the paper's
    plain sum is driven by the early one. (ddof 1 vs 0 alone is the constant factor
    K/(K-1) per window when nothing is missing and does not change the ranking.)
    """
    if not 0.0 <= float(weight) <= 1.0:
        raise EvalibError(f"weight must lie in [0, 1], got {weight!r}")
    st = stats_for(source, missing)
    e, lt = check_windows(early, late, st.num_epochs)
    ve = _normalised(st.var(*e, ddof=1), e)
    vl = _normalised(st.var(*lt, ddof=1), lt)
    return weight * ve + (1.0 - weight) * vl


def eva(
    source: Source,
    early: Window = EARLY,
    late: Window = LATE,
    *,
    variant: str = "paper",
    weight: float = 0.5,
    missing: str | None = None,
) -> np.ndarray:
    """EVA, ``variant="paper"`` (:func:`eva_paper`) or ``"official"`` (:func:`eva_official`)."""
    if variant == "paper":
        return eva_paper(source, early, late, missing=missing)
    if variant == "official":
        return eva_official(source, early, late, weight=weight, missing=missing)
    raise EvalibError(f"EVA variant must be 'paper' or 'official', got {variant!r}")


# ----------------------------------------------------------------------------- comparison


def selection_overlap(idx_a: Any, idx_b: Any) -> dict[str, float]:
    """Compare two selections (arrays of indices; duplicates are ignored).

    Returns ``size_a``, ``size_b``, ``intersection`` (|A & B|), ``jaccard``
    (|A & B| / |A | B|) and ``overlap`` (|A & B| / min(|A|, |B|); equals the shared
    fraction of each when the sizes are equal). Empty inputs give 0.0 ratios.
    """
    a = np.unique(np.asarray(idx_a).reshape(-1))
    b = np.unique(np.asarray(idx_b).reshape(-1))
    inter = int(np.intersect1d(a, b, assume_unique=True).size)
    union = a.size + b.size - inter
    small = min(a.size, b.size)
    return {
        "size_a": int(a.size),
        "size_b": int(b.size),
        "intersection": inter,
        "jaccard": inter / union if union else 0.0,
        "overlap": inter / small if small else 0.0,
    }


def compare_at_rate(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    rate: float,
    *,
    direction_a: str = "highest",
    direction_b: str = "highest",
    rounding: str = "ceil",
) -> dict[str, float]:
    """Overlap of the top-M sets of two score vectors [N] at ``rate`` (M = budget(N, rate)).

    Returns :func:`selection_overlap`'s dict plus ``m``.
    """
    a = np.asarray(scores_a, np.float64).reshape(-1)
    b = np.asarray(scores_b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise EvalibError(f"score vectors differ in length: {a.size} vs {b.size}")
    m = budget(a.size, rate, rounding)
    out = selection_overlap(top_k(a, m, direction_a), top_k(b, m, direction_b))
    return {"m": m, **out}
