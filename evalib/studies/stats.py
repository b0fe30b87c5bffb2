"""Summaries over seeds, seed-paired differences, the verdict rules of the claims, and
per-class accuracy (the worst-class numbers of job rows and the related pages).

Verdicts are strict and symmetric. A comparison is a seed-paired difference A − B in
accuracy points with a 95 % t-interval [lo, hi] over seeds:

* a claim that A is **better** (``kind="better"``) *holds* when lo > 0, is
  *contradicted* when hi < 0, and is *inconclusive* otherwise;
* **worse** is the mirror image (holds when hi < 0, contradicted when lo > 0);
* **matches or beats** (``kind="matches"``) needs an equivalence margin m > 0 in points:
  it holds when lo ≥ −m and is contradicted when hi < −m;
* **does not beat** (``kind="no_better"``) holds when hi ≤ m and is contradicted when
  lo > m.

With one seed there is no interval and a comparison is inconclusive. A claim made for
several rates or datasets holds only when every part holds and is contradicted when any
part is; otherwise it is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

HOLDS, CONTRADICTED, INCONCLUSIVE, UNTESTED = "holds", "contradicted", "inconclusive", "not tested"
KINDS = ("better", "worse", "matches", "no_better")
#: Equivalence margin (accuracy points) of "matches or beats" and "does not beat" claims.
MARGIN = 1.0


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, std, half-width of the two-sided ``level`` t-interval, n) of ``values``;
    the half-width is NaN for fewer than two finite values."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, math.nan, 1
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))
    return float(x.mean()), std, half, n


def verdict(diff: float, ci95: float, kind: str, margin: float = MARGIN) -> str:
    """Verdict of one comparison from its mean difference and 95 % half-width (points)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if diff is None or not np.isfinite(diff):
        return UNTESTED
    if ci95 is None or not np.isfinite(ci95):
        return INCONCLUSIVE
    lo, hi = diff - ci95, diff + ci95
    if kind == "better":
        return HOLDS if lo > 0 else CONTRADICTED if hi < 0 else INCONCLUSIVE
    if kind == "worse":
        return HOLDS if hi < 0 else CONTRADICTED if lo > 0 else INCONCLUSIVE
    if kind == "matches":
        return HOLDS if lo >= -margin else CONTRADICTED if hi < -margin else INCONCLUSIVE
    return HOLDS if hi <= margin else CONTRADICTED if lo > margin else INCONCLUSIVE


def combine(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its parts: holds only when every part holds, contradicted
    when any part is, otherwise inconclusive (an untested part is not a holding one)."""
    parts = list(verdicts)
    if not parts or all(v == UNTESTED for v in parts):
        return UNTESTED
    if any(v == CONTRADICTED for v in parts):
        return CONTRADICTED
    if all(v == HOLDS for v in parts):
        return HOLDS
    return INCONCLUSIVE


def paired_differences(
    table: pd.DataFrame,
    a: dict,
    b: dict,
    by: Sequence[str] = ("rate",),
    metric: str = "clean_test_acc",
    pair_on: Sequence[str] = ("seed",),
) -> pd.DataFrame:
    """Per group of ``by``: mean, std, 95 % half-width and n of A − B in points, paired on
    ``pair_on``. ``a`` and ``b`` select rows by column values (e.g. ``{"arm": "random"}``);
    a column absent from a row set's keys is matched on ``by`` + ``pair_on`` only."""

    def pick(where: dict) -> pd.DataFrame:
        mask = np.ones(len(table), dtype=bool)
        for col, val in where.items():
            mask &= (table[col] == val).to_numpy()
        return table.loc[mask, [*by, *pair_on, metric]]

    keys = [*by, *pair_on]
    merged = pick(a).merge(pick(b), on=keys, suffixes=("_a", "_b"))
    merged["d"] = 100 * (merged[f"{metric}_a"] - merged[f"{metric}_b"])
    rows = []
    for group, part in merged.groupby(list(by), sort=True):
        mean, std, half, n = t_interval(part["d"].tolist())
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(by, group, strict=True)), "diff": mean, "std": std,
                     "ci95": half, "n": n})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "diff", "std", "ci95", "n"])


def summarize(
    table: pd.DataFrame, metric: str = "clean_test_acc", by: Sequence[str] = ("method", "rate")
) -> pd.DataFrame:
    """Mean, std, n and a 95 % t-interval half-width of ``metric`` (in %) over seeds."""
    rows = []
    for group, part in table.groupby(list(by), sort=True):
        mean, std, half, n = t_interval((100 * part[metric]).tolist())
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(by, group, strict=True)), "mean": mean, "std": std,
                     "count": n, "ci95": half})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "mean", "std", "count", "ci95"])


def groupby_summary(
    table: pd.DataFrame, metric: str = "clean_test_acc", by: Sequence[str] = ("method", "rate")
) -> pd.DataFrame:
    """Mean, std, n and a 95 % t-interval half-width of ``metric`` (in %) over seeds.

    The summary of :func:`summarize`, computed with pandas' groupby (``groupby_summary``
    of earlier versions, which notebook 02 and :mod:`evalib.studies.ablations` use); its floats can
    differ from :func:`summarize`'s in the last bit, so the two are kept apart until the
    tables written with it are regenerated."""
    from scipy import stats

    g = table.groupby(list(by))[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out[["mean", "std"]] *= 100
    tcrit = out["count"].map(lambda n: stats.t.ppf(0.975, n - 1) if n > 1 else math.nan)
    out["ci95"] = tcrit * out["std"] / np.sqrt(out["count"])
    return out


def identical_pairs(
    table: pd.DataFrame,
    a: dict,
    b: dict,
    by: Sequence[str] = ("rate",),
    pair_on: Sequence[str] = ("seed",),
    column: str = "indices_sha256",
) -> pd.DataFrame:
    """Per group of ``by``: how many of the ``pair_on``-paired runs of A and B (rows chosen
    as in :func:`paired_differences`) trained on the *same* coreset (equal ``column``, the
    digest of the chosen samples): columns ``*by, n, identical``. A − B is then exactly 0
    by construction, which says nothing about the scores behind A and B."""
    keys = [*by, *pair_on]
    if column not in table:
        return pd.DataFrame(columns=[*by, "n", "identical"])

    def pick(where: dict) -> pd.DataFrame:
        mask = np.ones(len(table), dtype=bool)
        for col, val in where.items():
            mask &= (table[col] == val).to_numpy()
        return table.loc[mask, [*keys, column]].drop_duplicates(keys)

    merged = pick(a).merge(pick(b), on=keys, suffixes=("_a", "_b"))
    same = merged[f"{column}_a"].notna() & (merged[f"{column}_a"] == merged[f"{column}_b"])
    merged = merged.assign(same=same.astype(int))
    rows = []
    for group, part in merged.groupby(list(by), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(by, group, strict=True)), "n": len(part),
                     "identical": int(part["same"].sum())})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "n", "identical"])
