"""Turning scores into coresets: budgets, top-k, class quotas, CCS sampling, writers.

Indices returned here are *positions* into the scored Dynamics (0..N-1);
``Selection.sample_ids`` maps them to indices of the full training split.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.io import atomic_file
from evalib.ranking import _check_direction, budget, rank, top_k
from evalib.scores.registry import compute_scores, get_method

# --------------------------------------------------------------------------- class balance


def class_quotas(labels: Any, m: int) -> dict[int, int]:
    """Per-class quotas summing to ``m``: proportional to class size, >= 1 per class, <= class size.

    Start from max(1, floor(m * n_c / N)); top up by largest remainder (ties: smaller class
    label first) or, if the ">= 1" floor overshoots, take back from the most over-served
    classes. Within 1 of m * n_c / N whenever every class's share is >= 1. Raises
    EvalibError when m < number of classes.
    """
    y = np.asarray(labels).reshape(-1)
    classes, sizes = np.unique(y, return_counts=True)
    n, k = int(sizes.sum()), len(classes)
    if not 1 <= m <= n:
        raise EvalibError(f"m must lie in [1, {n}], got {m}")
    if m < k:
        raise EvalibError(
            f"class-balanced selection of M = {m} cannot cover {k} classes; raise the rate"
        )
    share = m * sizes / n
    q = np.minimum(np.maximum(np.floor(share).astype(np.int64), 1), sizes)
    while q.sum() < m:
        room = q < sizes
        rem = np.where(room, share - q, -np.inf)
        q[int(np.argmax(rem))] += 1  # argmax: first maximum = smallest label on ties
    while q.sum() > m:
        over = np.where(q > 1, q - share, -np.inf)
        q[int(np.argmax(over))] -= 1
    return {int(c): int(v) for c, v in zip(classes, q, strict=True)}


def last_class_quotas(labels: Any, rate: float) -> dict[int, int]:
    """Per-class quotas of the published EVA code's ``--class-balanced`` flag as it behaved
    (2024-10-25): every class gets int(rate × size of the *last* class), capped at its own
    size (the class-counting loop kept only the last class's count).

    Classes are the sorted distinct labels, so "last" is the largest label. The quotas
    need not sum to budget(N, rate): OrganAMNIST at 2 % gives 71 per class, 781 in all.
    Raises EvalibError when the quota rounds to 0.
    """
    y = np.asarray(labels).reshape(-1)
    classes, sizes = np.unique(y, return_counts=True)
    if not len(classes):
        raise EvalibError("cannot select from an empty set of samples")
    q = int(float(rate) * int(sizes[-1]))
    if q < 1:
        raise EvalibError(
            f"the published flag's quota int({rate} × {int(sizes[-1])}) is 0; raise the rate"
        )
    return {int(c): min(q, int(n)) for c, n in zip(classes, sizes, strict=True)}


#: How class quotas (and with them the coreset size) are set: "proportional" —
#: M = budget(N, rate), split by :func:`class_quotas` when class-balanced; "last_class" —
#: the published code's flag (:func:`last_class_quotas`), M = the sum of those quotas.
QUOTAS = ("proportional", "last_class")


def _quotas(labels: Any, m: int, rate: float, quota: str) -> dict[int, int]:
    if quota == "last_class":
        return last_class_quotas(labels, rate)
    return class_quotas(labels, m)


def top_k_balanced(
    scores: Any,
    labels: Any,
    m: int,
    direction: str,
    quotas: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Best positions within each class, [sum of quotas] int64 in global priority order;
    ``quotas``: class -> count (default :func:`class_quotas` of ``m``)."""
    y = np.asarray(labels).reshape(-1)
    order = rank(scores, direction)
    if y.shape != order.shape:
        raise EvalibError(f"labels have {y.size} entries but scores {order.size}")
    keep = np.zeros(order.size, bool)
    y_ord = y[order]
    for c, qc in (class_quotas(y, m) if quotas is None else quotas).items():
        keep[order[y_ord == c][:qc]] = True
    return order[keep[order]]


# --------------------------------------------------------------------------- CCS


def ccs_beta(rate: float) -> float:
    """Default CCS hard-cutoff fraction β for a selection ``rate``.

    Source: the CCS README's CIFAR-10 example keeps 10 % with ``--mis-ratio 0.3``; the
    other values are *our* rule (β grows as the rate falls), not CCS's tuned settings:
    rate >= 0.5: 0.0; >= 0.3: 0.1; >= 0.2: 0.2; >= 0.1: 0.3; < 0.1: 0.4. Pass ``beta=``
    to override; the cutoff is always clipped so that M samples remain.
    """
    for lo, beta in ((0.5, 0.0), (0.3, 0.1), (0.2, 0.2), (0.1, 0.3)):
        if rate >= lo:
            return beta
    return 0.4


def water_fill(sizes: Any, m: int) -> np.ndarray:
    """Split budget ``m`` over strata of ``sizes``: smallest stratum first gets
    min(size, remaining // strata left); [S] int64, sums to min(m, sum(sizes))."""
    sizes = np.asarray(sizes, np.int64)
    take = np.zeros_like(sizes)
    left = min(int(m), int(sizes.sum()))
    order = np.argsort(sizes, kind="stable")
    for j, s in enumerate(order):
        take[s] = min(int(sizes[s]), left // (len(order) - j))
        left -= int(take[s])
    return take


def ccs_sample(
    scores: Any,
    m: int,
    *,
    beta: float,
    n_strata: int = 50,
    seed: int | None = 0,
    hard: str = "lowest",
) -> np.ndarray:
    """Coverage-centric stratified sampling (Zheng et al. 2023), [m] int64 sorted positions.

    1. drop the floor(beta * N) hardest samples (``hard="lowest"``: lowest scores, as for
       AUM; ties by index), clipped so that at least m finite-scored samples remain;
    2. split the remaining scores into ``n_strata`` equal-width bins over [min, max];
    3. allocate m by :func:`water_fill`; 4. sample uniformly without replacement inside
       each stratum with ``numpy.random.default_rng(seed)``.

    NaN scores are never sampled unless fewer than m finite scores exist; then they are
    added in index order.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    n = s.size
    if not 1 <= int(m) <= n:
        raise EvalibError(f"m must lie in [1, {n}], got {m}")
    if not 0.0 <= float(beta) < 1.0:
        raise EvalibError(f"CCS beta must lie in [0, 1), got {beta!r}")
    if int(n_strata) < 1:
        raise EvalibError(f"n_strata must be >= 1, got {n_strata!r}")
    m, n_strata = int(m), int(n_strata)
    fin = np.isfinite(s)
    n_fin = int(fin.sum())
    if n_fin < m:
        return np.sort(np.concatenate([np.flatnonzero(fin), np.flatnonzero(~fin)[: m - n_fin]]))
    cut = min(math.floor(beta * n), n_fin - m)
    order = rank(s, "lowest" if _check_direction(hard) == "lowest" else "highest")
    pool = np.sort(order[cut:n_fin])  # finite ones after the cutoff
    v = s[pool]
    lo, hi = float(v.min()), float(v.max())
    if hi > lo:
        strata = np.minimum(((v - lo) / (hi - lo) * n_strata).astype(np.int64), n_strata - 1)
    else:
        strata = np.zeros(v.size, np.int64)
    sizes = np.bincount(strata, minlength=n_strata)
    take = water_fill(sizes, m)
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(pool[strata == b], size=int(take[b]), replace=False)
        for b in np.flatnonzero(take)
    ]
    out = np.sort(np.concatenate(chosen)).astype(np.int64)
    assert out.size == m  # water_fill's invariant
    return out


# --------------------------------------------------------------------------- select


@dataclass(frozen=True, eq=False)
class Selection:
    """A coreset.

    indices: [M] int64 positions into the scored Dynamics (priority order; sorted for CCS).
    sample_ids: [M] int64 training-set indices of those samples. scores: [N] float64.
    """

    indices: np.ndarray
    sample_ids: np.ndarray
    scores: np.ndarray
    method: str
    rate: float
    params: Mapping[str, Any] = field(default_factory=dict)
    direction: str = "highest"
    seed: int | None = 0

    @property
    def size(self) -> int:
        return int(self.indices.size)


_CCS_KEYS = ("beta", "n_strata")


def select(
    method: str,
    dynamics_or_scores: Dynamics | Any,
    rate: float,
    seed: int | None = 0,
    class_balanced: bool = False,
    rounding: str = "ceil",
    *,
    labels: Any = None,
    sample_ids: Any = None,
    direction: str | None = None,
    quota: str = "proportional",
    **params: Any,
) -> Selection:
    """Score (if given Dynamics) and select M = budget(N, rate, rounding) samples.

    ``dynamics_or_scores``: a Dynamics (scored with ``compute_scores(method, ...,
    **params)``) or precomputed scores [N] (then ``labels`` is needed for class balance and
    ``sample_ids`` defaults to 0..N-1). ``direction`` overrides the method's kept end.
    ``method="random"`` uses ``seed`` for its scores unless ``seed=`` is in params.
    ``method="ccs"`` samples with :func:`ccs_sample` (params ``beta`` — default
    :func:`ccs_beta` — and ``n_strata``); with ``class_balanced`` it runs per class.
    ``quota="last_class"`` sets the class quotas as the published code's flag did
    (:func:`last_class_quotas`; ``rounding`` is then unused): per class with
    ``class_balanced``, else only the coreset's size M (their sum), filled by global top-M.
    """
    if quota not in QUOTAS:
        raise EvalibError(f"quota must be one of {', '.join(QUOTAS)}, got {quota!r}")
    params = dict(params)
    ccs_opts = {k: params.pop(k) for k in _CCS_KEYS if k in params} if method == "ccs" else {}
    if isinstance(dynamics_or_scores, Dynamics):
        dyn = dynamics_or_scores
        if method == "random" and "seed" not in params:
            params["seed"] = seed
        scores = compute_scores(method, dyn, **params)
        labels, ids = dyn.labels, dyn.sample_ids
        params = get_method(method).params(params)
    else:
        scores = np.asarray(dynamics_or_scores, np.float64).reshape(-1)
        ids = (
            np.arange(scores.size, dtype=np.int64)
            if sample_ids is None
            else np.asarray(sample_ids, np.int64)
        )
        if ids.shape != scores.shape:
            raise EvalibError(f"sample_ids have {ids.size} entries but scores {scores.size}")
    if direction is None:
        direction = get_method(method).resolve_direction(params)
    _check_direction(direction)
    n = scores.size
    m = budget(n, rate, rounding)
    if (class_balanced or quota != "proportional") and labels is None:
        raise EvalibError("class_balanced selection from plain scores needs labels=")
    y = None if labels is None else np.asarray(labels).reshape(-1)
    if y is not None and y.shape != scores.shape:
        raise EvalibError(f"labels have {y.size} entries but scores {n}")
    quotas = None if quota == "proportional" else _quotas(y, m, rate, quota)
    if quotas is not None:
        m = sum(quotas.values())
    if method == "ccs":
        beta = float(ccs_opts.get("beta", ccs_beta(float(rate))))
        kw = {"beta": beta, "n_strata": ccs_opts.get("n_strata", 50), "hard": direction}
        if class_balanced:
            rng = np.random.default_rng(seed)
            parts = []
            for c, qc in (quotas or class_quotas(y, m)).items():
                pos = np.flatnonzero(y == c)
                sub_seed = int(rng.integers(2**63 - 1))
                parts.append(pos[ccs_sample(scores[pos], qc, seed=sub_seed, **kw)])
            idx = np.sort(np.concatenate(parts))
        else:
            idx = ccs_sample(scores, m, seed=seed, **kw)
        params = {**params, "beta": beta, "n_strata": kw["n_strata"]}
    elif class_balanced:
        idx = top_k_balanced(scores, y, m, direction, quotas)
    else:
        idx = top_k(scores, m, direction)
    idx = idx.astype(np.int64)
    extra = {} if quota == "proportional" else {"quota": quota}
    return Selection(
        indices=idx,
        sample_ids=ids[idx].astype(np.int64),
        scores=scores,
        method=method,
        rate=float(rate),
        params={**params, "class_balanced": bool(class_balanced), "rounding": rounding, **extra},
        direction=direction,
        seed=seed,
    )


# --------------------------------------------------------------------------- writers


def _atomic_write(path: Path, write) -> Path:
    with atomic_file(path) as fh:
        write(fh)
    return path


def _suffix(path: Path) -> str:
    if path.suffix not in (".npy", ".csv"):
        raise EvalibError(f"{path}: write .npy or .csv, not {path.suffix or 'no suffix'!r}")
    return path.suffix


def _csv(columns: dict[str, np.ndarray]) -> bytes:
    import pandas as pd  # local: only the CSV writers need it

    return pd.DataFrame(columns).to_csv(index=False, float_format="%.17g", na_rep="nan").encode()


def save_selection(sel: Selection, path: str | os.PathLike) -> Path:
    """Write a selection atomically: ``.npy`` = [M] int64 training-set indices (sample_ids);
    ``.csv`` = columns rank, position, sample_id, score (priority order)."""
    path = Path(path)
    if _suffix(path) == ".npy":
        return _atomic_write(path, lambda fh: np.save(fh, np.asarray(sel.sample_ids, np.int64)))
    body = _csv(
        {
            "rank": np.arange(sel.size),
            "position": sel.indices,
            "sample_id": sel.sample_ids,
            "score": sel.scores[sel.indices],
        }
    )
    return _atomic_write(path, lambda fh: fh.write(body))


def save_scores(scores: Any, sample_ids: Any, path: str | os.PathLike) -> Path:
    """Write scores atomically: ``.npy`` = [N] float64 scores (position order);
    ``.csv`` = columns position, sample_id, score."""
    path = Path(path)
    s = np.asarray(scores, np.float64).reshape(-1)
    ids = np.asarray(sample_ids, np.int64).reshape(-1)
    if ids.shape != s.shape:
        raise EvalibError(f"sample_ids have {ids.size} entries but scores {s.size}")
    if _suffix(path) == ".npy":
        return _atomic_write(path, lambda fh: np.save(fh, s))
    body = _csv({"position": np.arange(s.size), "sample_id": ids, "score": s})
    return _atomic_write(path, lambda fh: fh.write(body))


def read_selection(path: str | os.PathLike) -> np.ndarray:
    """Training-set indices [M] int64 from a file written by :func:`save_selection`."""
    path = Path(path)
    if not path.exists():
        raise EvalibError(f"selection file not found: {path}")
    if _suffix(path) == ".npy":
        return np.load(path).astype(np.int64)
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, dtype=np.float64)
    return data[:, 2].astype(np.int64)


# --------------------------------------------------------------------------- ownership

_SCORES_HEADER = "position,sample_id,score"
_SELECTION_HEADER = "rank,position,sample_id,score"


def _first_line(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _npy_is(path: Path, dtype: Any) -> bool:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    return arr.ndim == 1 and arr.dtype == np.dtype(dtype)


def is_scores_file(path: str | os.PathLike) -> bool:
    """True when ``path`` looks like a file :func:`save_scores` wrote (CSV header, or a
    1-D float64 ``.npy``): such a file may be replaced."""
    path = Path(path)
    if path.suffix == ".csv":
        return _first_line(path) == _SCORES_HEADER
    return path.suffix == ".npy" and _npy_is(path, np.float64)


def is_selection_file(path: str | os.PathLike) -> bool:
    """True when ``path`` looks like a file :func:`save_selection` wrote."""
    path = Path(path)
    if path.suffix == ".csv":
        return _first_line(path) == _SELECTION_HEADER
    return path.suffix == ".npy" and _npy_is(path, np.int64)


def is_coresets_dir(path: str | os.PathLike) -> bool:
    """True when the folder holds only files that ``evalib select`` writes (written before
    output folders were marked): ``<method>-scores.csv`` and ``<method>-<rate>.npy/.csv``."""
    try:
        names = [n for n in os.listdir(path) if not n.startswith(".")]
    except OSError:
        return False
    return all(
        (Path(path) / n).is_file()
        and (
            (n.endswith("-scores.csv") and is_scores_file(Path(path) / n))
            or is_selection_file(Path(path) / n)
        )
        for n in names
    )


def check_output_name(path: str | os.PathLike, what: str | None = None) -> None:
    """Raise EvalibError unless ``path`` ends in ``.npy`` or ``.csv`` (before any work)."""
    path = Path(path)
    if path.suffix not in (".npy", ".csv"):
        label = f"{what} {path}" if what else str(path)
        raise EvalibError(f"{label}: write .npy or .csv, not {path.suffix or 'no suffix'!r}")
