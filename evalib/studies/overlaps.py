"""What selections share: score and coreset overlaps (Jaccard, Spearman) between
methods and windows, how much of EVA's variance each window holds, and how the official
code's zero-filled missing epochs change a selection (pages 04 and 05)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalib.errors import EvalibError
from evalib.scores import WindowStats, compare_at_rate, compute_scores
from evalib.scores.windows import Window
from evalib.studies.labels import fmt_pair, fmt_window


def score_overlaps(
    scores: Mapping[str, np.ndarray],
    rates: Sequence[float],
    pairs: Sequence[tuple[str, str]] | None = None,
    rounding: str = "ceil",
) -> pd.DataFrame:
    """Overlap of the top-M selections of named score vectors (keep highest) per rate.

    ``pairs`` defaults to every unordered pair of names. Columns: ``a, b, rate, m,
    intersection, jaccard, overlap`` (see :func:`evalib.scores.compare_at_rate`).
    """
    names = list(scores)
    pairs = pairs or [(x, y) for i, x in enumerate(names) for y in names[i + 1 :]]
    rows = []
    for x, y in pairs:
        for r in rates:
            c = compare_at_rate(scores[x], scores[y], float(r), rounding=rounding)
            rows.append({"a": x, "b": y, "rate": float(r), "m": c["m"],
                         "intersection": c["intersection"], "jaccard": c["jaccard"],
                         "overlap": c["overlap"]})  # fmt: skip
    return pd.DataFrame(rows)


def overlap_matrix(
    scores: Mapping[str, np.ndarray], rate: float, rounding: str = "ceil"
) -> pd.DataFrame:
    """Square Jaccard matrix between the top-M selections (keep highest) of named score
    vectors of equal length; one top-M per name and one matrix product, so hundreds of
    names are cheap. Agrees with :func:`evalib.scores.compare_at_rate` pair by pair."""
    from evalib.ranking import budget, top_k

    names = list(scores)
    if not names:
        return pd.DataFrame()
    n = np.asarray(scores[names[0]]).size
    m = budget(n, float(rate), rounding)
    member = np.zeros((len(names), n), np.float64)
    for i, name in enumerate(names):
        s = np.asarray(scores[name], np.float64).reshape(-1)
        if s.size != n:
            raise EvalibError(f"score vector {name!r} has {s.size} entries, expected {n}")
        member[i, top_k(s, m, "highest")] = 1.0
    inter = member @ member.T
    jac = inter / (2 * m - inter)
    return pd.DataFrame(jac, index=pd.Index(names), columns=pd.Index(names))


def matrix_long(matrix: pd.DataFrame, value: str = "jaccard") -> pd.DataFrame:
    """The upper triangle (a before b, diagonal excluded) of a square matrix as rows
    ``a, b, <value>``."""
    names = list(matrix.index)
    rows = [
        {"a": x, "b": y, value: float(matrix.loc[x, y])}
        for i, x in enumerate(names)
        for y in names[i + 1 :]
    ]
    return pd.DataFrame(rows, columns=["a", "b", value])


def window_scores(
    source: Any,
    windows: Sequence[Window],
    pairs: Sequence[tuple[Window, Window]] = (),
) -> dict[str, np.ndarray]:
    """VAR-S scores of each window and VAR-D scores of each pair, keyed by window text.

    ``source``: Dynamics or :class:`~evalib.scores.WindowStats` (built once here from
    Dynamics, so each window costs O(N)).
    """
    stats = source if isinstance(source, WindowStats) else WindowStats.from_dynamics(source)
    out = {fmt_window(w): compute_scores("var_s", stats, window=tuple(w)) for w in windows}
    for e, lt in pairs:
        out[fmt_pair(e, lt)] = compute_scores("var_d", stats, early=tuple(e), late=tuple(lt))
    return out


def eva_variant_scores(
    source: Any, early: Window, late: Window, weight: float = 0.5
) -> dict[str, np.ndarray]:
    """EVA as the paper writes it and as the official code computes it, same windows
    (``source``: Dynamics or WindowStats; statistics are built once)."""
    st = source if isinstance(source, WindowStats) else WindowStats.from_dynamics(source)
    kw = {"early": tuple(early), "late": tuple(late)}
    return {
        "paper": compute_scores("eva", st, variant="paper", **kw),
        "official": compute_scores("eva", st, variant="official", weight=weight, **kw),
    }


def window_variance_share(source: Any, early: Window, late: Window) -> dict[str, float]:
    """Total (over samples) error-norm variance in each window and the early share.

    Explains why the paper's plain sum and the official normalised mix rank differently:
    the plain sum follows the window with more total variance. Keys: ``early_total``,
    ``late_total``, ``early_share`` (0–1; NaN when both totals are 0).
    """
    shares = window_variance_shares(source, [early, late])
    ve, vl = (float(v) for v in shares["total"])
    total = ve + vl
    return {"early_total": ve, "late_total": vl,
            "early_share": ve / total if total > 0 else math.nan}  # fmt: skip


def window_variance_shares(source: Any, windows: Sequence[Window]) -> pd.DataFrame:
    """Per window of the grid: the error-norm variance summed over samples (``total``) and its
    share of the sum over all ``windows`` (``share``, 0–1), with the window's ``start`` and
    ``end`` epochs and both as fractions of the surrogate's ``T`` epochs (``start_frac``,
    ``end_frac``), so that surrogates of different lengths can be drawn on one axis."""
    st = source if isinstance(source, WindowStats) else WindowStats.from_dynamics(source)
    totals = [float(np.nansum(st.var(a, b))) for a, b in windows]
    whole = sum(totals)
    epochs = int(getattr(source, "num_epochs", 0) or max(b for _, b in windows))
    return pd.DataFrame(
        {
            "start": [a for a, _ in windows],
            "end": [b for _, b in windows],
            "start_frac": [a / epochs for a, _ in windows],
            "end_frac": [b / epochs for _, b in windows],
            "total": totals,
            "share": [t / whole if whole > 0 else math.nan for t in totals],
        }
    )


def unseen_in(seen: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """[N] bool: the sample misses at least one epoch inside any of ``windows``."""
    seen = np.asarray(seen, bool)
    miss = np.zeros(seen.shape[1], bool)
    for a, b in windows:
        miss |= ~seen[a:b].all(axis=0)
    return miss


def missing_effect(
    dynamics: Any,
    rates: Sequence[float],
    method: str = "eva",
    rounding: str = "ceil",
    **params: Any,
) -> pd.DataFrame:
    """How the missing-entry convention changes a selection on dynamics with unseen epochs.

    Scores ``method`` with ``missing="mask"`` (unseen epochs left out) and ``"zero"``
    (unseen epochs count as S = 0, the official code) and compares the top-M sets.
    ``params`` must name the windows (``window`` or ``early``/``late``). Columns: ``rate,
    m, jaccard, affected_all`` (share of all samples with an unseen epoch inside the
    windows), ``affected_mask``, ``affected_zero`` (that share inside each coreset).
    """
    from evalib.ranking import budget, top_k

    windows = [params[k] for k in ("window", "early", "late") if k in params]
    if not windows:
        raise EvalibError("missing_effect needs the windows: window=... or early=..., late=...")
    affected = unseen_in(dynamics.seen, windows)
    s_mask = compute_scores(method, dynamics, missing="mask", **params)
    s_zero = compute_scores(method, dynamics, missing="zero", **params)
    rows = []
    for r in rates:
        m = budget(affected.size, float(r), rounding)
        im, iz = top_k(s_mask, m, "highest"), top_k(s_zero, m, "highest")
        c = compare_at_rate(s_mask, s_zero, float(r), rounding=rounding)
        rows.append({"rate": float(r), "m": m, "jaccard": c["jaccard"],
                     "affected_all": float(affected.mean()),
                     "affected_mask": float(affected[im].mean()),
                     "affected_zero": float(affected[iz].mean())})  # fmt: skip
    return pd.DataFrame(rows)
