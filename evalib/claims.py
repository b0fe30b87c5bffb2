"""The paper's claims (method.md §6) as comparisons with verdicts computed from results.

Each claim is a set of seed-paired comparisons A − B (accuracy points). A comparison
*holds* when its mean difference has the claimed sign and the 95 % t-interval over seeds
excludes zero, is *partly* supported when the sign is right but the interval includes
zero (or only one seed exists), and *does not hold* when the sign is wrong. A claim
holds when all its comparisons hold, does not hold when none has the claimed sign,
and is partly supported otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from evalib.ablations import paired_difference

HOLDS, PARTLY, FAILS, UNTESTED = "holds", "partly", "does not hold", "not tested"

# Differences the paper states in its text (method.md §6), in accuracy points;
# Table 1 differences are computed from evalib.paper instead.
PAPER_TEXT = {
    ("organsmnist", "var_s-exp_s"): "≥ +20 (all rates, Sec. 4.3)",
    ("organsmnist", "var_d-var_s", 0.02): "+2.29 (Sec. 4.3)",
}


@dataclass(frozen=True)
class Comparison:
    """``a`` − ``b`` should be > 0 (``sign=+1``), < 0 (``-1``) or ≥ 0 (``0``: 'matches')."""

    claim: int
    label: str
    a: dict
    b: dict
    sign: int = 1


def _stats(d: pd.DataFrame) -> tuple[float, float, float, float]:
    """(diff, ci95, std, count) of the first row of a paired_difference frame, NaN if empty."""
    return tuple(
        float(d[c].iloc[0]) if len(d) else math.nan for c in ("diff", "ci95", "std", "count")
    )


def verdict(diff: float, ci95: float, sign: int) -> str:
    """Verdict of one comparison from its mean difference and CI half-width (points)."""
    if diff is None or math.isnan(diff):
        return UNTESTED
    ci = 0.0 if ci95 is None or math.isnan(ci95) else ci95
    single = ci95 is None or math.isnan(ci95)
    if sign == 0:  # "matches or beats": holds at ≥ 0, fails when clearly below
        if diff >= 0:
            return PARTLY if single else HOLDS
        return FAILS if single or diff + ci < 0 else PARTLY
    signed = sign * diff
    if signed <= 0:
        return FAILS
    return PARTLY if single or signed - ci <= 0 else HOLDS


def combine(verdicts: Sequence[str]) -> str:
    tested = [v for v in verdicts if v != UNTESTED]
    if not tested:
        return UNTESTED
    if all(v == HOLDS for v in tested):
        return HOLDS
    if all(v == FAILS for v in tested):
        return FAILS
    return PARTLY


def comparisons() -> list[Comparison]:
    """The rate-wise comparisons of claims 1–4 (5 and 6 are in :func:`evaluate`, :func:`transfer`)."""
    rnd = {"method": "random"}
    out = [Comparison(1, "EVA − Random", {"method": "eva"}, rnd)]
    out += [Comparison(2, f"{m} − Random", {"method": m}, rnd, -1)
            for m in ("forgetting", "entropy", "el2n", "aum")]  # fmt: skip
    out += [
        Comparison(3, "VAR-S − EXP-S", {"method": "var_s"}, {"method": "exp_s"}),
        Comparison(3, "VAR-D − EXP-D", {"method": "var_d"}, {"method": "exp_d"}),
        Comparison(4, "VAR-D − VAR-S (early)", {"method": "var_d"}, {"method": "var_s"}),
    ]
    return out


def evaluate(
    table: pd.DataFrame, dataset: str, low_rates: Sequence[float], metric: str = "clean_test_acc"
) -> pd.DataFrame:
    """One row per (claim, comparison, rate): diff, std, ci95, n, verdict (claims 1–5).

    ``table``: job results (one row per job) of Table 1 and the ablations for ``dataset``;
    single-window ablation rows must use the early window (as the notebooks do).
    """
    rows = []
    protocol = "clean" if metric == "clean_test_acc" else "paper"
    sub = table[table["rate"].isin(low_rates)]
    for comp in comparisons():
        d = paired_difference(sub, comp.a, comp.b, ("rate",), comp.label)
        d = d[d["protocol"] == protocol]
        for rate in low_rates:
            r = d[d["rate"] == rate]
            diff, ci, std, n = _stats(r)
            rows.append({"claim": comp.claim, "comparison": comp.label, "rate": rate,
                         "diff": diff, "std": std, "ci95": ci, "n_seeds": n,
                         "verdict": verdict(diff, ci, comp.sign), "direction": comp.sign or 1,
                         "paper": paper_difference(dataset, comp.a["method"],
                                                   comp.b["method"], rate)})  # fmt: skip
    # claim 2, second half: no baseline beats Random at 5 %
    for m in ("forgetting", "entropy", "el2n", "aum", "ccs"):
        if 0.05 not in low_rates:
            break
        d = paired_difference(table[table["rate"] == 0.05], {"method": m}, {"method": "random"},
                              ("rate",), f"{m} − Random (≤ 0 at 5 %)")  # fmt: skip
        d = d[d["protocol"] == protocol]
        diff, ci, std, n = _stats(d)
        rows.append({"claim": 2, "comparison": f"{m} − Random (≤ 0)", "rate": 0.05,
                     "diff": diff, "std": std, "ci95": ci, "n_seeds": n,
                     "verdict": verdict(-diff, ci, 0), "direction": -1,
                     "paper": paper_difference(dataset, m, "random", 0.05)})  # fmt: skip
    if dataset == "organamnist":
        full = table[table["method"] == "full"]
        eva30 = table[(table["method"] == "eva") & (table["rate"] == 0.3)]
        both = pd.concat([eva30, full])
        both = both.assign(rate=0.3)
        d = paired_difference(
            both, {"method": "eva"}, {"method": "full"}, ("rate",), "EVA 30 % − full"
        )
        d = d[d["protocol"] == protocol]
        diff, ci, std, n = _stats(d)
        rows.append({"claim": 5, "comparison": "EVA 30 % − full data", "rate": 0.3, "diff": diff,
                     "std": std, "ci95": ci, "n_seeds": n, "verdict": verdict(diff, ci, 0),
                     "direction": 1, "paper": paper_difference(dataset, "eva", "full", 0.3)})  # fmt: skip
    out = pd.DataFrame(rows)
    out.insert(0, "dataset", dataset)
    out.insert(1, "protocol", protocol)
    return out


def transfer(
    table: pd.DataFrame,
    dataset: str,
    metric: str = "clean_test_acc",
    surrogate: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """Claim 6: EVA − Random per coreset model and rate (job results of notebook 06).

    ``surrogate`` (name, width): the model the coresets were chosen with; its own rows
    are left out, since training the same architecture is not a transfer.
    """
    protocol = "clean" if metric == "clean_test_acc" else "paper"
    if surrogate is not None:
        same = (table["model"] == surrogate[0]) & (table["width"] == surrogate[1])
        table = table[~same]
    if table.empty:
        return pd.DataFrame(columns=["dataset", "claim", "model_label", "rate", "diff", "std",
                                     "ci95", "n_seeds", "verdict"])  # fmt: skip
    table = table.assign(model_label=table["model"] + " ×" + table["width"].astype(str))
    d = paired_difference(table, {"method": "eva"}, {"method": "random"},
                          ("model_label", "rate"), "EVA − Random")  # fmt: skip
    d = d[d["protocol"] == protocol]
    out = d.rename(columns={"count": "n_seeds"})[
        ["comparison", "model_label", "rate", "diff", "std", "ci95", "n_seeds"]
    ]
    out["verdict"] = [verdict(a, b, 1) for a, b in zip(out["diff"], out["ci95"], strict=True)]
    out["direction"] = 1
    out.insert(0, "claim", 6)
    out.insert(0, "dataset", dataset)
    return out.reset_index(drop=True)


def paper_difference(dataset: str, a: str, b: str, rate: float) -> float:
    """The paper's Table 1 difference a − b at ``rate`` (points), NaN if not reported."""
    from evalib.paper import table1

    t = table1().query("dataset == @dataset")
    get = lambda m, r: t[(t["method"] == m) & (t["rate"] == r)]["mean"]  # noqa: E731
    va, vb = get(a, rate), get(b, 1.0 if b == "full" else rate)
    return float(va.iloc[0] - vb.iloc[0]) if len(va) and len(vb) else math.nan


def explain(group: pd.DataFrame) -> str:
    """One sentence on why a claim got its verdict, from its comparison rows (columns
    comparison, diff, ci95, n_seeds, verdict, direction; optional rate, model_label,
    paper): how many comparisons hold, and the one that argues most against the claim."""
    g = group.dropna(subset=["diff"])
    if g.empty:
        return "No results for this claim yet."
    counts = g["verdict"].value_counts()
    margin = g["direction"].fillna(1) * g["diff"]
    worst = g.loc[margin.idxmin()]
    where = str(worst.get("comparison", "the comparison"))
    if "model_label" in g and isinstance(worst.get("model_label"), str):
        where += f" on {worst['model_label']}"
    if "rate" in g and not pd.isna(worst.get("rate")):
        where += f" at {100 * float(worst['rate']):g} %"
    ci = "" if pd.isna(worst["ci95"]) else f" ± {worst['ci95']:.1f}"
    seeds = int(worst["n_seeds"]) if not pd.isna(worst["n_seeds"]) else 0
    paper = worst.get("paper", math.nan)
    paper_text = "" if pd.isna(paper) else f"; the paper: {paper:+.1f}"
    n_hold, n_fail = int(counts.get(HOLDS, 0)), int(counts.get(FAILS, 0))
    head = (f"{n_hold} of {len(g)} comparisons hold, {len(g) - n_hold - n_fail} partly (one "
            f"seed, or a 95 % interval that includes 0), {n_fail} do not")  # fmt: skip
    label = "weakest" if combine(list(g["verdict"])) == HOLDS else "most against the claim"
    return (f"{head}; {label}: {where}, {worst['diff']:+.1f}{ci} points "
            f"({seeds} seed{'s' if seeds != 1 else ''}{paper_text}).")  # fmt: skip


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One verdict per (dataset, protocol, claim) with a sentence why (:func:`explain`);
    empty when no result was found."""
    cols = ["dataset", "protocol", "claim", "verdict", "why"]
    if "verdict" not in rows.columns or rows.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for (dataset, protocol, claim), g in rows.groupby(["dataset", "protocol", "claim"]):
        out.append({"dataset": dataset, "protocol": protocol, "claim": claim,
                    "verdict": combine(list(g["verdict"])), "why": explain(g)})  # fmt: skip
    return pd.DataFrame(out, columns=cols)


def diff_stats(diffs: Sequence[float]) -> tuple[float, float, float, int]:
    """(mean, 95 % t-interval half-width, std, n) of paired differences; NaN where undefined
    (ci95 and std need two values)."""
    from scipy import stats

    d = pd.Series(diffs, dtype=float).dropna()
    n = len(d)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    if n == 1:
        return float(d.iloc[0]), math.nan, math.nan, 1
    std = float(d.std())
    return float(d.mean()), float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)), std, n


def related_claim(
    claim: str,
    source: str,
    expected: str,
    parts: dict[str, Sequence[float]],
    sign: int,
    unit: str = "points",
) -> dict:
    """One claim of a related paper tested on paired differences: ``parts`` maps a label
    (e.g. a rate) to the per-seed differences A − B, each judged with :func:`verdict`
    (``sign`` as in :class:`Comparison`) and combined with :func:`combine`.

    Returns a row: claim, source, expected, ours (mean ± ci95 per part, in ``unit``),
    verdict, and ``parts`` (label → verdict)."""
    shown, verdicts = [], {}
    for label, diffs in parts.items():
        mean, ci, _, n = diff_stats(diffs)
        verdicts[label] = verdict(mean, ci, sign)
        if n:
            ci_text = "" if math.isnan(ci) else f" ± {ci:.2f}"
            shown.append(f"{label}: {mean:+.2f}{ci_text} (n={n})")
    return {
        "claim": claim,
        "source": source,
        "expected": expected,
        "ours": "; ".join(shown) + (f" [{unit}]" if shown else "no results"),
        "verdict": combine(list(verdicts.values())),
        "parts": verdicts,
    }


def paired_parts(
    table: pd.DataFrame,
    part: str,
    pair_on: Sequence[str],
    a: str,
    b: str,
    value: str,
    label: str = "{:.0%}",
    scale: float = 1.0,
    arm: str = "method",
) -> dict[str, list[float]]:
    """Differences ``scale`` × (a − b) of ``value`` per ``part`` (e.g. rate), paired on the
    ``pair_on`` columns (e.g. seed), between the rows whose ``arm`` column is ``a`` and
    ``b``; keys are ``label.format(part)``. Parts where an arm is missing are left out."""
    wide = table.pivot_table(index=[part, *pair_on], columns=arm, values=value)
    return {
        label.format(key): list(scale * (g[a] - g[b]).dropna())
        for key, g in wide.groupby(level=part)
        if a in g and b in g
    }


def verdict_markdown(rows: Sequence[dict], title: str = "What held") -> str:
    """A Markdown table of :func:`related_claim` rows (claim, expected, ours, verdict)."""
    lines = [f"**{title}** (mean paired difference ± 95 % CI half-width over seeds; "
             "*holds*: the claimed sign at every part with the interval excluding 0 — for "
             "a ≥ 0 ('matches or beats') claim, a mean ≥ 0; *partly*: the claimed sign "
             "somewhere but not everywhere, or an interval that includes 0; *does not "
             "hold*: the wrong sign everywhere)", "",
             "| claim | source | expected | ours | verdict |", "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        cells = [r["claim"], r["source"], r["expected"], r["ours"], f"**{r['verdict']}**"]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
