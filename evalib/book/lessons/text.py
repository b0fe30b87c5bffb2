"""Formatting and table helpers shared by the pages' conclusions (numbers, intervals,
verdict words); method and dataset names come from :mod:`evalib.studies.labels`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from evalib.studies import stats
from evalib.studies.labels import count
from evalib.studies.stats import HOLDS

CLEAN = "clean_test_acc"
PAPER_EVA = "the paper's EVA"
MINUS = "−"


# ----------------------------------------------------------------------------- formatting


def _finite(x: object) -> bool:
    try:
        return math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def num(x: object, digits: int = 1, sign: bool = False) -> str:
    """``x`` with ``digits`` decimals (a leading ``+`` when ``sign``), minus as ``−``;
    ``"—"`` when it is not a finite number."""
    if not _finite(x):
        return "—"
    value = float(x)  # type: ignore[arg-type]
    if round(value, digits) == 0:  # no "−0.0" and no "+0.0": zero has no sign
        return f"{0.0:.{digits}f}"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("-", MINUS)


def pm(diff: object, ci: object, digits: int = 1) -> str:
    """``"+3.1 ± 1.2"`` (signed mean ± 95 % half-width), or the mean alone without one."""
    text = num(diff, digits, sign=True)
    return text + (f" ± {float(ci):.{digits}f}" if _finite(ci) else "")  # type: ignore[arg-type]


def rate_text(rate: object) -> str:
    """``0.02`` → ``"2 %"``."""
    return f"{100 * float(rate):g} %"  # type: ignore[arg-type]


def seeds_text(counts: Iterable[object]) -> str:
    """How many seeds stand behind a set of comparisons: ``"3 seeds"``, ``"2–3 seeds"``,
    ``"1 seed, so no interval"``."""
    ns = sorted({int(n) for n in counts if _finite(n)})
    if not ns:
        return "no seed"
    if ns == [1]:
        return "1 seed, so no interval"
    if len(ns) == 1:
        return f"{ns[0]} seeds"
    return f"{ns[0]}–{ns[-1]} seeds"


def names(items: Sequence[str]) -> str:
    """``"a, b and c"``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def word(verdict: str) -> str:
    """A verdict word as the pages show it (bold)."""
    return f"**{verdict}**"


def percent(x: object) -> str:
    """``0.153`` → ``"15 %"``, ``0.042`` → ``"4.2 %"``, ``0.00029`` → ``"0.029 %"`` (two
    significant digits below 1 %, so a small share never reads as zero)."""
    if not _finite(x):
        return "—"
    v = 100 * float(x)  # type: ignore[arg-type]
    if v == 0 or v >= 10:
        return f"{v:.0f} %"
    return f"{v:.1f} %" if v >= 1 else f"{v:.2g} %"


def is_word(verdict: str) -> str:
    """``"**holds**"`` or ``"is **inconclusive**"``: a verdict after a claim's name."""
    return word(verdict) if verdict == HOLDS else f"is {word(verdict)}"


def side(diff: object, ci: object, n: object, reference: str = "Random") -> str:
    """Where A lies against the reference, read off the interval of A − B."""
    if not _finite(diff) or not _finite(n) or int(n) == 0:  # type: ignore[arg-type]
        return f"not compared with {reference}"
    if not _finite(ci):
        where = "above" if float(diff) > 0 else "below"  # type: ignore[arg-type]
        return f"{where} {reference} on one seed, which gives no interval"
    lo, hi = float(diff) - float(ci), float(diff) + float(ci)  # type: ignore[arg-type]
    if lo > 0:
        return f"above {reference}"
    if hi < 0:
        return f"below {reference}"
    return f"not separable from {reference}: the interval covers 0"


def _has(frame: object, columns: Iterable[str] = ()) -> bool:
    return isinstance(frame, pd.DataFrame) and len(frame) > 0 and set(columns) <= set(frame)


def _at(frame: pd.DataFrame, column: str, value: float) -> pd.DataFrame:
    return frame[np.isclose(frame[column].astype(float), float(value))]


def _paired(
    table: pd.DataFrame,
    column: str,
    a: object,
    b: object,
    by: Sequence[str] = ("rate",),
    metric: str = CLEAN,
    pair_on: Sequence[str] = ("seed",),
) -> pd.DataFrame:
    """:func:`evalib.studies.stats.paired_differences` of rows ``column == a`` minus ``== b``."""
    return stats.paired_differences(table, {column: a}, {column: b}, by, metric, pair_on)


def _one(
    table: pd.DataFrame,
    column: str,
    a: object,
    b: object,
    metric: str = CLEAN,
    pair_on: Sequence[str] = ("seed",),
) -> dict:
    """The paired difference over the whole ``table`` (one group): diff, ci95, n."""
    t = table.assign(_all=0)
    d = _paired(t, column, a, b, ("_all",), metric, pair_on)
    if d.empty:
        return {"diff": math.nan, "ci95": math.nan, "n": 0}
    r = d.iloc[0]
    return {"diff": float(r["diff"]), "ci95": float(r["ci95"]), "n": int(r["n"])}


def _mean(table: pd.DataFrame, column: str, value: object, metric: str = CLEAN) -> dict:
    """Mean accuracy (%) of the rows ``column == value``, with its 95 % half-width and n
    (:func:`evalib.studies.stats.summarize`)."""
    rows = table[table[column] == value]
    if rows.empty:
        return {"mean": math.nan, "ci95": math.nan, "count": 0}
    s = stats.summarize(rows.assign(_all=0), metric, by=("_all",)).iloc[0]
    return {"mean": float(s["mean"]), "ci95": float(s["ci95"]), "count": int(s["count"])}


def _acc(m: Mapping[str, object]) -> str:
    """``"41.3 ± 2.0 %"`` (mean accuracy ± 95 % half-width) or ``"41.3 %"``."""
    return pm(m["mean"], m["ci95"]).lstrip("+") + " %"


def _budget(table: pd.DataFrame, budget: str = "epochs") -> pd.DataFrame:
    return table[table["budget"] == budget] if "budget" in table else table


def related_lines(rows: Sequence[Mapping[str, object]] | None) -> list[str]:
    """One bullet per claim row of :func:`evalib.studies.claims.related_claim` (the "What held"
    table of pages 07–09): the claim, its verdict and the numbers behind it."""
    out = []
    for r in rows or ():
        out.append(
            f"- {r.get('claim')} — {r.get('source')}: {word(str(r.get('verdict')))}; "
            f"ours: {r.get('ours')}."
        )
    return out


def _differences(
    diff: pd.DataFrame,
    kind: str,
    claim: str,
    rates: Sequence[float] | None = None,
    protocol: str = "clean",
) -> list[str]:
    """One bullet per comparison of an :func:`evalib.studies.ablations.paired_difference` frame:
    its difference at each rate and the verdict of ``claim``, combined over ``rates``
    (the rates the claim is judged at; every rate when None)."""
    d = diff[diff["protocol"] == protocol] if "protocol" in diff else diff
    lines = []
    for name, g in d.groupby("comparison", sort=False):
        g = g.sort_values("rate")
        parts = [f"{pm(r['diff'], r['ci95'])} at {rate_text(r['rate'])}" for _, r in g.iterrows()]
        judged = g
        where = ""
        if rates:
            judged = g[
                np.isclose(
                    g["rate"].astype(float).to_numpy()[:, None],
                    np.asarray(rates, dtype=float)[None, :],
                ).any(axis=1)
            ]
            if len(judged) < len(g) or len(rates) > len(judged):
                where = f" at {names([rate_text(r) for r in rates])}"
        verdicts = [stats.verdict(r["diff"], r["ci95"], kind) for _, r in judged.iterrows()]
        lines.append(
            f"- {name}: {'; '.join(parts)} ({seeds_text(g['count'])}): {claim}{where} "
            f"{is_word(stats.combine(verdicts))}."
        )
    return lines


def _reading(d: Mapping[str, object], reference: str = "Random") -> str:
    """``", below Random"`` read off the interval, or ``""`` without one."""
    return f", {side(d['diff'], d['ci95'], d['n'], reference)}" if _finite(d["ci95"]) else ""


_count = count  # "1 sample", "55 samples" (evalib.studies.labels.count)
