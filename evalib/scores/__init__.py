"""Per-sample pruning scores: pure functions of Dynamics (or arrays) -> [N] float64.

* :mod:`~evalib.scores.windows`: error norm S [T, N] and :class:`WindowStats` (O(N) window
  mean / variance from prefix sums), window validation, missing-entry conventions.
* :mod:`~evalib.scores.eva_scores`: EVA (paper / official), EXP-S, VAR-S, EXP-D, VAR-D, overlaps.
* :mod:`~evalib.scores.baselines`: Random, Forgetting, Entropy, EL2N, AUM, Cartography,
  TDDS, DAD.
* :mod:`~evalib.scores.registry`: ``METHODS``, :func:`compute_scores`, :func:`direction`.
"""

from evalib.scores.baselines import (
    Cartography,
    aum,
    cartography,
    cartography_score,
    centrality,
    dad,
    el2n,
    entropy,
    forgetting,
    random_scores,
    tdds,
)
from evalib.scores.eva_scores import (
    EARLY,
    LATE,
    compare_at_rate,
    eva,
    eva_official,
    eva_paper,
    exp_d,
    exp_s,
    selection_overlap,
    var_d,
    var_s,
)
from evalib.scores.registry import METHODS, MethodInfo, compute_scores, direction, get_method
from evalib.scores.windows import (
    WindowStats,
    check_window,
    check_windows,
    correctness,
    error_norm,
    margin,
    true_class_prob,
)

__all__ = [
    "EARLY",
    "LATE",
    "METHODS",
    "Cartography",
    "MethodInfo",
    "WindowStats",
    "aum",
    "cartography",
    "cartography_score",
    "centrality",
    "check_window",
    "check_windows",
    "compare_at_rate",
    "compute_scores",
    "correctness",
    "dad",
    "direction",
    "el2n",
    "entropy",
    "error_norm",
    "eva",
    "eva_official",
    "eva_paper",
    "exp_d",
    "exp_s",
    "forgetting",
    "get_method",
    "margin",
    "random_scores",
    "selection_overlap",
    "tdds",
    "true_class_prob",
    "var_d",
    "var_s",
]
