"""Baselines of the paper's Table 1 and close relatives, as [N] float64 score functions.

Every function takes a :class:`~evalib.dynamics.Dynamics` (T epochs, N samples, C classes)
and returns one score per sample; the registry in :mod:`evalib.scores.registry` says which
end is kept. ``missing="mask"`` (default) leaves unseen entries out, ``"zero"`` counts them
as 0 (official-code convention). A sample with no usable entry gets NaN, which selection
ranks last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalib.dynamics import Dynamics
from evalib.errors import EvalibError
from evalib.scores.windows import (
    Window,
    WindowStats,
    check_missing,
    check_window,
    correctness,
    error_norm,
    true_class_prob,
)
from evalib.scores.windows import (
    margin as per_epoch_margin,
)


def _window(dyn: Dynamics, window: Window | None, min_len: int = 1) -> Window:
    return check_window(
        (0, dyn.num_epochs) if window is None else window, dyn.num_epochs, min_len=min_len
    )


def _epochs(dyn: Dynamics, a: int, b: int) -> Dynamics:
    """The epochs [a, b) of ``dyn`` (views, no copy), so per-epoch work covers the window only."""
    if (a, b) == (0, dyn.num_epochs):
        return dyn
    return Dynamics(dyn.log_probs[a:b], dyn.labels, dyn.seen[a:b], dyn.sample_ids)


def _missing(missing: str | None) -> str:
    return check_missing(missing or "mask")


# ----------------------------------------------------------------------------- random


def random_scores(dynamics: Dynamics | int, seed: int = 0) -> np.ndarray:
    """Uniform [0, 1) scores from ``numpy.random.default_rng(seed)``, [N]; top-M = a random
    M-subset."""
    n = dynamics if isinstance(dynamics, int) else dynamics.num_samples
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63
    ):
        raise EvalibError(f"random seed must be an integer in [0, 2^63), got {seed!r}")
    return np.random.default_rng(seed).random(n)


# ----------------------------------------------------------------------------- forgetting


def forgetting(dyn: Dynamics, never_learned: str = "zero") -> np.ndarray:
    """Forgetting events (Toneva et al. 2019), [N] float64 counts; keep highest.

    An event is a correct -> incorrect transition (correct: argmax p == y) between two
    consecutive *seen* epochs of a sample (unseen epochs are skipped, not counted as
    either). Samples never correct in any seen epoch get 0 with ``never_learned="zero"``
    (CCS code) or T with ``"max"`` (Toneva: most forgettable; T exceeds any reachable
    count, which is at most T // 2). Samples never seen get NaN.
    """
    if never_learned not in ("zero", "max"):
        raise EvalibError(f"never_learned must be 'zero' or 'max', got {never_learned!r}")
    t, n = dyn.num_epochs, dyn.num_samples
    seen = np.asarray(dyn.seen)
    corr = correctness(dyn).astype(bool)
    # index of the latest seen epoch <= t, -1 if none; shifted by one: the previous seen epoch
    last = np.where(seen, np.arange(t, dtype=np.int32)[:, None], -1)
    np.maximum.accumulate(last, axis=0, out=last)
    prev = np.full((t, n), -1, np.int32)
    prev[1:] = last[:-1]
    prev_ok = prev >= 0
    prev_corr = np.take_along_axis(corr, np.maximum(prev, 0), axis=0) & prev_ok
    events = (seen & prev_corr & ~corr).sum(axis=0).astype(np.float64)
    if never_learned == "max":
        events[~(corr & seen).any(axis=0)] = float(t)
    events[~seen.any(axis=0)] = np.nan
    return events


# ----------------------------------------------------------------------------- entropy


def _entropy_rows(lp: np.ndarray) -> np.ndarray:
    lp = np.asarray(lp, np.float64)
    p = np.exp(lp)
    terms = np.where(p > 0, p * np.where(np.isfinite(lp), lp, 0.0), 0.0)
    return -terms.sum(axis=-1)


def entropy(dyn: Dynamics, source: str = "eval") -> np.ndarray:
    """Predictive entropy in nats (Coleman et al. 2020), [N] float64; keep highest.

    ``source="eval"``: the final eval-mode pass (``Dynamics.final_eval_log_probs()``; raises
    if none was recorded). ``"train_last"`` (only on request): each sample's log-probs at
    its last seen training epoch (NaN if never seen).
    """
    if source == "eval":
        return _entropy_rows(dyn.final_eval_log_probs())
    if source != "train_last":
        raise EvalibError(f"entropy source must be 'eval' or 'train_last', got {source!r}")
    seen = np.asarray(dyn.seen)
    t = dyn.num_epochs
    last = t - 1 - np.argmax(seen[::-1], axis=0)
    out = _entropy_rows(np.asarray(dyn.log_probs)[last, np.arange(dyn.num_samples)])
    out[~seen.any(axis=0)] = np.nan
    return out


# ----------------------------------------------------------------------------- EL2N


def el2n(
    dynamics: Dynamics | Sequence[Dynamics],
    *,
    variant: str = "ccs",
    epoch: int = 20,
    end: int = 10,
    missing: str | None = None,
) -> np.ndarray:
    """EL2N, [N] float64 over S_t(i) = ||p_t(i) - onehot(y_i)||_2; keep highest.

    ``variant="paul"`` (Paul et al. 2021): mean of S at one early ``epoch`` (default 20, their
    CIFAR-10 setting) over one or more runs (a list of Dynamics with equal labels and
    sample_ids). ``"ccs"``: sum of S over epochs [0, ``end``) of one run (CCS code; ranks
    like EXP-S on [0, end)). Under ``missing="mask"`` the sum is K * (mean of seen epochs).
    """
    missing = _missing(missing)
    runs = [dynamics] if isinstance(dynamics, Dynamics) else list(dynamics)
    if not runs:
        raise EvalibError("el2n needs at least one Dynamics")
    if variant == "ccs":
        if len(runs) != 1:
            raise EvalibError("el2n variant 'ccs' uses one run; pass a single Dynamics")
        a, b = check_window((0, end), runs[0].num_epochs, min_len=1, name="EL2N epochs")
        sub = _epochs(runs[0], a, b)
        return WindowStats(error_norm(sub), sub.seen, missing=missing, copy=False).sum(0, b - a)
    if variant != "paul":
        raise EvalibError(f"el2n variant must be 'paul' or 'ccs', got {variant!r}")
    ref = runs[0]
    for r in runs[1:]:
        if not (
            np.array_equal(r.labels, ref.labels) and np.array_equal(r.sample_ids, ref.sample_ids)
        ):
            raise EvalibError(
                "el2n runs must share labels and sample_ids (same samples, same order)"
            )
    vals, used = [], []
    for r in runs:
        e = check_window((epoch, epoch + 1), r.num_epochs, min_len=1, name="EL2N epoch")[0]
        one = _epochs(r, e, e + 1)
        vals.append(error_norm(one)[0])
        used.append(np.ones(r.num_samples, bool) if missing == "zero" else np.asarray(r.seen[e]))
    v, u = np.array(vals), np.array(used)
    cnt = u.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(u, v, 0.0).sum(axis=0) / cnt
    out[cnt == 0] = np.nan
    return out


# ----------------------------------------------------------------------------- AUM


def aum(
    dyn: Dynamics,
    *,
    margin: str = "logit",
    window: Window | None = None,
    missing: str | None = None,
) -> np.ndarray:
    """Area under the margin (Pleiss et al. 2020), [N] float64; keep lowest (hardest).

    ``margin="logit"``: mean over the epochs of ``window`` (default all) of
    logit_y - max_{c != y} logit_c, computed exactly from the log-softmax.
    ``"prob"``: CCS's accumulated margin, the *sum* over epochs of p_y - max_{c != y} p_c
    (under ``missing="mask"``: K * mean over the seen epochs).
    """
    missing = _missing(missing)
    a, b = _window(dyn, window)
    sub = _epochs(dyn, a, b)
    st = WindowStats(per_epoch_margin(sub, margin), sub.seen, missing=missing, copy=False)
    return st.mean(0, b - a) if margin == "logit" else st.sum(0, b - a)


# ----------------------------------------------------------------------------- cartography


@dataclass(frozen=True, eq=False)
class Cartography:
    """Dataset Cartography (Swayamdipta et al. 2020), each [N] float64 over a window.

    confidence: mean of p_y; variability: std (ddof 0) of p_y; correctness: fraction of
    epochs with argmax == y.
    """

    confidence: np.ndarray
    variability: np.ndarray
    correctness: np.ndarray


def cartography(
    dyn: Dynamics, *, window: Window | None = None, missing: str | None = None
) -> Cartography:
    """Confidence, variability and correctness over ``window`` (default all epochs)."""
    missing = _missing(missing)
    a, b = _window(dyn, window, min_len=2)
    sub, k = _epochs(dyn, a, b), b - a
    py = WindowStats(true_class_prob(sub), sub.seen, missing=missing, copy=False)
    co = WindowStats(correctness(sub), sub.seen, missing=missing, copy=False)
    return Cartography(py.mean(0, k), py.std(0, k, ddof=0), co.mean(0, k))


def cartography_score(
    dyn: Dynamics,
    measure: str = "confidence",
    *,
    window: Window | None = None,
    missing: str | None = None,
) -> np.ndarray:
    """One Cartography measure, [N]: ``"confidence"``, ``"variability"`` or ``"correctness"``."""
    if measure not in ("confidence", "variability", "correctness"):
        raise EvalibError(
            f"cartography measure must be confidence/variability/correctness, got {measure!r}"
        )
    return getattr(cartography(dyn, window=window, missing=missing), measure)


# ----------------------------------------------------------------------------- TDDS


def _tdds_chunk(lp: np.ndarray) -> np.ndarray:
    nxt, cur = lp[1:], lp[:-1]
    return np.abs(np.exp(nxt) * (nxt - cur)).sum(axis=2)


def tdds(
    dyn: Dynamics,
    *,
    start: int = 0,
    length: int = 30,
    window: int = 10,
    decay: float = 0.9,
    missing: str | None = None,
) -> np.ndarray:
    """Temporal Dual-Depth Scoring (Zhang et al., CVPR 2024), [N] float64; keep highest.

    Definition implemented (after the paper and its public code), over the ``length``
    epochs [start, start + length):

    1. first depth, per transition t -> t+1: d_t(i) = sum_c |p_{t+1,c} (log p_{t+1,c} -
       log p_{t,c})| (an absolute KL-style change of the prediction; we use the recorded
       log-probs exactly, where the reference code adds 1e-8 inside the log);
    2. second depth, per sliding window k = 0..L-K of K = ``window`` epochs (K-1
       transitions): u_k(i) = ||d(i) - mean_window d(i)||_2 = sqrt((K-1) * Var_pop);
    3. score = sum_k decay * (1 - decay)^(L-K-k) * u_k (exponential moving average that
       weights the latest windows most; reference defaults L=30, K=10, decay=0.9).

    A transition counts only when both epochs are seen ("mask"; with "zero" unseen
    transitions count as d = 0). Var_pop uses the window's usable transitions; a window
    with none makes the score NaN.
    """
    missing = _missing(missing)
    t_all = dyn.num_epochs
    if isinstance(start, int) and isinstance(length, int) and 0 <= start < t_all < start + length:
        fit = t_all - start  # the defaults (30 epochs) need longer runs than short ones have
        suggestion = (f"e.g. length={fit}, window={min(int(window), fit)}" if fit >= 2
                      else "record at least 2 epochs after start")  # fmt: skip
        raise EvalibError(
            f"TDDS trajectory [{start}, {start + length}) needs T >= {start + length} epochs; "
            f"these dynamics have T = {t_all} (TDDS needs at least 2 after start): {suggestion}"
        )
    a, b = check_window((start, start + length), t_all, min_len=2, name="TDDS trajectory")
    k = int(window)
    if not 2 <= k <= b - a:
        raise EvalibError(f"TDDS window must satisfy 2 <= K <= length = {b - a}, got {window!r}")
    if not 0.0 < float(decay) < 1.0:
        raise EvalibError(f"TDDS decay must lie in (0, 1), got {decay!r}")
    sub = _epochs(dyn, a, b)
    n = dyn.num_samples
    d = np.zeros((b - a - 1, n), np.float64)
    # per_epoch works on epoch chunks; transitions need neighbours, so go pairwise in chunks
    step = max(2, (1 << 22) // max(1, n * dyn.num_classes))
    for t0 in range(0, b - a - 1, step - 1):
        lp = np.array(sub.log_probs[t0 : t0 + step], np.float32)
        np.maximum(lp, np.finfo(np.float16).min, out=lp)
        d[t0 : t0 + lp.shape[0] - 1] = _tdds_chunk(lp)
    seen = np.asarray(sub.seen)
    ok = seen[1:] & seen[:-1]
    st = WindowStats(d, ok, missing=missing, copy=False)
    length = b - a
    out = np.zeros(n)
    for w in range(length - k + 1):
        if k > 2:
            u = np.sqrt((k - 1) * st.var(w, w + k - 1, ddof=0))
        else:  # one transition per window: its deviation from itself is 0 (NaN if unusable)
            u = np.where(st.count(w, w + 1) > 0, 0.0, np.nan)
        out += decay * (1.0 - decay) ** (length - k - w) * u
    return out


# ----------------------------------------------------------------------------- DAD


def dad(
    dyn: Dynamics,
    *,
    window: Window | None = None,
    keep: str = "ambiguous",
) -> np.ndarray:
    """Dynamic Average Dice (He et al., Data-Centric Diet) in classification form, [N].

    The soft Dice of a softmax p against a one-hot label is 2 p_y / (sum_c p_c + 1) = p_y,
    so DAD(i) = mean of p_t(i)_y over the epochs of ``window`` (default all) with entries
    equal to 0 left out (unseen entries too). ``keep="hard"`` keeps the lowest DAD and
    ``"easy"`` the highest (both return DAD itself); ``"ambiguous"`` keeps the middle of the
    ranking and returns the centrality :func:`centrality(DAD) <centrality>` (keep highest).
    """
    if keep not in ("hard", "easy", "ambiguous"):
        raise EvalibError(f"DAD keep must be 'hard', 'easy' or 'ambiguous', got {keep!r}")
    a, b = _window(dyn, window)
    sub = _epochs(dyn, a, b)
    py = true_class_prob(sub)
    score = WindowStats(py, sub.seen, missing="mask", extra_mask=py > 0).mean(0, b - a)
    return centrality(score) if keep == "ambiguous" else score


def centrality(scores: np.ndarray) -> np.ndarray:
    """-|rank - (n - 1) / 2| over the n finite scores (ranks 0..n-1, stable, ties by
    index), [N]; keeping the highest keeps the middle of the ranking. NaN stays NaN."""
    s = np.asarray(scores, np.float64)
    out = np.full(s.shape, np.nan)
    fin = np.flatnonzero(np.isfinite(s))
    order = fin[np.argsort(s[fin], kind="stable")]
    out[order] = -np.abs(np.arange(fin.size) - (fin.size - 1) / 2.0)
    return out


__all__ = [
    "Cartography",
    "aum",
    "cartography",
    "cartography_score",
    "centrality",
    "dad",
    "el2n",
    "entropy",
    "forgetting",
    "random_scores",
    "tdds",
]
