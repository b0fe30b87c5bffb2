"""Benchmark the EVA window grid: prefix-sum WindowStats vs direct numpy per window.

Synthetic OrganAMNIST-sized dynamics (T = 200, N = 34,561, C = 11, float16 log-softmax;
``--quick``: T = 60, N = 5,000). Grid as in the paper's Fig. 5: windows of K = 10 epochs
on a 10-epoch grid, every single window (EXP-S, VAR-S) and every ordered non-overlapping
pair (EXP-D, EVA paper = VAR-D, EVA official).

Run: ``python benchmarks/bench_scores.py [--quick] [--direct-pairs 20]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evalib.dynamics import Dynamics, from_arrays  # noqa: E402
from evalib.scores import (  # noqa: E402
    WindowStats,
    error_norm,
    eva_official,
    eva_paper,
    exp_d,
    exp_s,
    var_s,
)


def synthetic_dynamics(t: int, n: int, c: int, seed: int = 0, batch: int = 256) -> Dynamics:
    """Softmax trajectories that learn at per-sample speeds, with noise and a few hard /
    mislabelled-looking samples; a drop-last loader skips N mod ``batch`` samples per epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    speed = rng.gamma(2.0, 1.0, n).astype(np.float32)  # epochs-to-learn scale
    hard = rng.random(n) < 0.05
    lp = np.empty((t, n, c), np.float16)
    rows = np.arange(n)
    for e in range(t):
        progress = 1.0 - np.exp(-speed * (e + 1) / (0.15 * t))
        z = rng.normal(0.0, 1.0, (n, c)).astype(np.float32)
        z[rows, labels] += np.where(hard, 1.5 * progress, 8.0 * progress)
        z -= z.max(axis=1, keepdims=True)
        lp[e] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    seen = np.ones((t, n), bool)
    skip = n % batch
    if skip:
        for e in range(t):
            seen[e, rng.permutation(n)[:skip]] = False
    return from_arrays(lp, labels, seen=seen)


def grid(t: int, k: int = 10, step: int = 10) -> tuple[list, list]:
    singles = [(a, a + k) for a in range(0, t - k + 1, step)]
    pairs = [(e, lt) for e, lt in itertools.combinations(singles, 2) if e[1] <= lt[0]]
    return singles, pairs


def run_cached(dyn: Dynamics, singles: list, pairs: list) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    stats = WindowStats.from_dynamics(dyn, missing="mask")
    t_build = time.perf_counter() - t0
    out = {}
    t0 = time.perf_counter()
    for w in singles:
        out["exp_s", w] = exp_s(stats, w)
        out["var_s", w] = var_s(stats, w)
    for e, lt in pairs:
        out["exp_d", e, lt] = exp_d(stats, e, lt)
        out["eva_paper", e, lt] = eva_paper(stats, e, lt)
        out["eva_official", e, lt] = eva_official(stats, e, lt)
    return t_build, time.perf_counter() - t0, out


def _direct_window(s: np.ndarray, seen: np.ndarray, w: tuple, ddof: int) -> tuple:
    x, m = s[w[0] : w[1]], seen[w[0] : w[1]]
    cnt = m.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(m, x, 0).sum(axis=0) / cnt
        var = (np.where(m, x - mean, 0) ** 2).sum(axis=0) / (cnt - ddof)
    return mean, var


def direct_pair(s: np.ndarray, seen: np.ndarray, e: tuple, lt: tuple) -> tuple:
    me, ve0 = _direct_window(s, seen, e, 0)
    ml, vl0 = _direct_window(s, seen, lt, 0)
    _, ve1 = _direct_window(s, seen, e, 1)
    _, vl1 = _direct_window(s, seen, lt, 1)
    official = 0.5 * ve1 / np.nansum(ve1) + 0.5 * vl1 / np.nansum(vl1)
    return me + ml, ve0 + vl0, official


def direct_from_log_probs(dyn: Dynamics, e: tuple, lt: tuple) -> tuple:
    """Recompute S inside each window from the log-probs (no shared pass at all)."""
    parts = []
    for w in (e, lt):
        sub = from_arrays(dyn.log_probs[w[0] : w[1]], dyn.labels, seen=dyn.seen[w[0] : w[1]])
        parts.append(error_norm(sub))
    s = np.concatenate(parts)
    seen = np.concatenate([dyn.seen[e[0] : e[1]], dyn.seen[lt[0] : lt[1]]])
    k = e[1] - e[0]
    return direct_pair(s, seen, (0, k), (k, 2 * k))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 60, N = 5,000")
    ap.add_argument("--direct-pairs", type=int, default=20, help="pairs timed for extrapolation")
    args = ap.parse_args(argv)
    t, n, c = (60, 5000, 11) if args.quick else (200, 34561, 11)
    print(f"synthetic dynamics T={t} N={n} C={c} float16 ...", flush=True)
    t0 = time.perf_counter()
    dyn = synthetic_dynamics(t, n, c)
    print(f"  generated in {time.perf_counter() - t0:.1f} s "
          f"({dyn.log_probs.nbytes / 2**20:.0f} MiB log-probs, "
          f"{(~dyn.seen).sum()} unseen entries)")  # fmt: skip
    singles, pairs = grid(t)
    print(f"grid: {len(singles)} single windows (K=10, step 10), {len(pairs)} ordered pairs")

    t_build, t_grid, out = run_cached(dyn, singles, pairs)
    n_vectors = len(out)
    print("\nprefix sums (WindowStats, missing='mask'):")
    print(f"  build (S + prefix sums, one O(TN) pass): {t_build:8.3f} s")
    print(f"  grid  ({n_vectors} score vectors: EXP-S, VAR-S x{len(singles)}; "
          f"EXP-D, EVA paper, EVA official x{len(pairs)}): {t_grid:8.3f} s")  # fmt: skip
    print(f"  total: {t_build + t_grid:8.3f} s   (target < 5 s)")

    tracemalloc.start()
    run_cached(dyn, singles, pairs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  peak traced memory of build + grid: {peak / 2**20:.0f} MiB")

    # direct numpy over a precomputed S [T, N], every window (cheap enough to do them all)
    s = error_norm(dyn)
    seen = np.asarray(dyn.seen)
    t0 = time.perf_counter()
    for w in singles:
        _direct_window(s, seen, w, 0)
    for e, lt in pairs:
        direct_pair(s, seen, e, lt)
    t_direct = time.perf_counter() - t0
    e_last, l_last = pairs[-1]
    ref = direct_pair(s, seen, e_last, l_last)
    got = [out[name, e_last, l_last] for name in ("exp_d", "eva_paper", "eva_official")]
    err = max(float(np.nanmax(np.abs(a - b))) for a, b in zip(ref, got, strict=True))
    print("\ndirect numpy per window on a precomputed S (all windows timed):")
    print(f"  grid: {t_direct:8.3f} s  -> prefix-sum grid is {t_direct / t_grid:5.1f}x faster "
          f"(max abs difference {err:.1e})")  # fmt: skip

    # direct from log-probs: recompute S in each window; time a subset, extrapolate
    sub = pairs[:: max(1, len(pairs) // max(1, args.direct_pairs))][: args.direct_pairs]
    t0 = time.perf_counter()
    for e, lt in sub:
        direct_from_log_probs(dyn, e, lt)
    per_pair = (time.perf_counter() - t0) / len(sub)
    est = per_pair * (len(pairs) + len(singles) / 2)
    print("\ndirect numpy from log-probs (S recomputed per window, no shared pass):")
    print(f"  timed {len(sub)} of {len(pairs)} pairs: {per_pair * 1e3:.1f} ms/pair; "
          f"extrapolated grid: {est:8.2f} s -> {est / (t_build + t_grid):5.1f}x the prefix-sum "
          "total (build included)")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess max RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
