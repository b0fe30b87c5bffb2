"""Each results page's "What this shows", written from the page's own tables.

One pure function per results page (notebooks 01–10). Each takes the DataFrames its
notebook has already computed and returns Markdown; nothing here reads a file, trains a
model or knows a profile. Every sentence carries the number behind it: a seed-paired
difference A − B in accuracy points with its 95 % t-interval half-width and the number
of seeds (:func:`evalib.stats.paired_differences`), and where a claim is judged, its
verdict word from :mod:`evalib.stats` (*holds*, *contradicted*, *inconclusive*,
*not tested*). A missing table, arm or rate, or a single seed, gives a sentence that
says what is missing instead of an exception.

==========================  ==========================================================
page                        builder
==========================  ==========================================================
01 dynamics                 :func:`dynamics`
02 benchmark (Table 1)      :func:`benchmark`
03 variance ablation        :func:`ablation`
04 dual windows             :func:`dual_window`
05 window grid              :func:`window_grid`
06 cross-architecture       :func:`cross_architecture`
07 pruning-identified       :func:`pruning_identified`
08 distillation             :func:`distillation`
09 DAD segmentation         :func:`dad`
10 claims                   :func:`claims_summary`
==========================  ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from evalib import stats
from evalib.findings import category
from evalib.paper import METHOD_LABELS
from evalib.stats import CONTRADICTED, HOLDS, INCONCLUSIVE, MARGIN, UNTESTED

CLEAN = "clean_test_acc"
PAPER_EVA = "the paper's EVA"
MINUS = "−"
#: display names beyond Table 1's (evalib.paper.METHOD_LABELS)
LABELS = {
    **METHOD_LABELS,
    "eva_tuned": "EVA (tuned windows)",
    "eva_published": "EVA (published windows)",
    "pie": "HTL (PIE)",
    "distilled": "DM distilled",
    "dad": "DAD",
    "dad_hard": "DAD keep-hard",
    "dad_easy": "DAD keep-easy",
    "dad_ambiguous": "DAD keep-ambiguous",
}
#: order in which methods are listed (others follow, alphabetically)
ORDER = (
    "eva_tuned",
    "eva_published",
    "eva",
    "eva_official",
    "forgetting",
    "entropy",
    "el2n",
    "aum",
    "ccs",
    "exp_s",
    "var_s",
    "exp_d",
    "var_d",
    "pie",
    "distilled",
    "dad_ambiguous",
    "dad_easy",
    "dad_hard",
    "dad",
)


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
    value = 0.0 if round(value, digits) == 0 else value  # no "−0.0"
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


def label(method: object) -> str:
    return LABELS.get(str(method), str(method))


def dataset_title(flag: object) -> str:
    """MedMNIST's spelling of a dataset flag (``organamnist`` → ``OrganAMNIST``)."""
    from evalib.ablations import dataset_title as title

    return title(str(flag))


def percent(x: object) -> str:
    """``0.153`` → ``"15 %"``, ``0.042`` → ``"4.2 %"``."""
    if not _finite(x):
        return "—"
    v = 100 * float(x)  # type: ignore[arg-type]
    return f"{v:.0f} %" if v == 0 or v >= 10 else f"{v:.1f} %"


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
    return f"not separable from {reference} (the interval covers 0)"


def _has(frame: object, columns: Iterable[str] = ()) -> bool:
    return isinstance(frame, pd.DataFrame) and len(frame) > 0 and set(columns) <= set(frame)


def _order(methods: Iterable[object]) -> list[str]:
    rank = {m: i for i, m in enumerate(ORDER)}
    return sorted({str(m) for m in methods}, key=lambda m: (rank.get(m, len(rank)), m))


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
    """:func:`evalib.stats.paired_differences` of rows ``column == a`` minus ``== b``."""
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
    (:func:`evalib.stats.summarize`)."""
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
    """One bullet per claim row of :func:`evalib.claims.related_claim` (the "What held"
    table of pages 07–09): the claim, its verdict and the numbers behind it."""
    out = []
    for r in rows or ():
        out.append(
            f"- {r.get('claim')} — {r.get('source')}: {word(str(r.get('verdict')))}; "
            f"ours: {r.get('ours')}."
        )
    return out


# ----------------------------------------------------------------------------- 01 dynamics


def dynamics(
    samples: pd.DataFrame,
    frame: pd.DataFrame | None = None,
    windows: Mapping[str, Sequence[int]] | None = None,
) -> str:
    """What the window statistics of the shown images say.

    ``samples``: one row per shown image (columns ``sample``, ``position`` and, per
    window, ``"<window> mean"`` and ``"<window> variance"``); ``frame``: every training
    image's mean and variance in the first window (columns ``"window mean of S"``,
    ``"window variance of S"``, index = position); ``windows``: name → [a, b)."""
    if not _has(samples, ("sample", "position")):
        return (
            "No training image was picked: the surrogate's dynamics are not in the "
            "results yet, so there is nothing to read off."
        )
    var_cols = [c for c in samples.columns if str(c).endswith(" variance")]
    mean_cols = [c for c in samples.columns if str(c).endswith(" mean")]
    if not var_cols or not mean_cols:
        return "The shown images have no window statistics yet."
    wnames = [str(c)[: -len(" variance")] for c in var_cols]
    s = samples.assign(_v=samples[var_cols].sum(axis=1)).reset_index(drop=True)
    first_mean, first_var = mean_cols[0], var_cols[0]
    has_frame = _has(frame, ("window mean of S", "window variance of S"))
    n_all = len(frame) if has_frame else 0
    if has_frame:
        rank_v = frame["window variance of S"].rank(ascending=False, method="min")
        rank_m = frame["window mean of S"].rank(ascending=False, method="min")
    lines = []
    for _, r in s.iterrows():
        parts = " + ".join(num(r[c], 3) for c in var_cols)
        text = (
            f"- *{r['sample']}* (image {int(r['position'])}): window variance {parts} = "
            f"{num(r['_v'], 3)} ({' + '.join(wnames)}); {first_mean} {num(r[first_mean], 2)}"
        )
        pos = int(r["position"])
        if has_frame and pos in rank_v.index:
            text += (
                f"; in the {wnames[0]} window it ranks {int(rank_v[pos])} of {n_all:,} by "
                f"variance and {int(rank_m[pos])} by mean"
            )
        lines.append(text + ".")
    top_v = s.loc[s["_v"].idxmax()]
    top_m = s.loc[s[first_mean].idxmax()]
    if top_v["sample"] != top_m["sample"]:
        lead = (
            f"Among these images EXP (the window mean) would keep *{top_m['sample']}* first "
            f"({first_mean} {num(top_m[first_mean], 2)}, {first_var} "
            f"{num(top_m[first_var], 3)}), EVA (the summed variance) *{top_v['sample']}* "
            f"({first_mean} {num(top_v[first_mean], 2)}, summed variance "
            f"{num(top_v['_v'], 3)}): an error that stays high has a small variance, "
            "so the hardest image is not the one EVA keeps first."
        )
    else:
        lead = (
            f"Here *{top_v['sample']}* has both the highest {first_mean} "
            f"({num(top_v[first_mean], 2)}) and the highest summed variance "
            f"({num(top_v['_v'], 3)}), so EXP and EVA agree on the top of this list."
        )
    out = [lead, "", *lines]
    if has_frame:
        rho = frame["window mean of S"].corr(frame["window variance of S"], method="spearman")
        if _finite(rho):
            how = (
                "much alike"
                if rho >= 0.8
                else "alike only in part"
                if rho >= 0.5
                else "differently"
            )
            out += [
                "",
                f"Over all {n_all:,} training images the {wnames[0]}-window mean and "
                f"variance have Spearman rank correlation {num(rho, 2)} (one surrogate run, "
                f"so no interval): the two scores order the images {how}.",
            ]
    if windows:
        short = [k for k, (a, b) in windows.items() if int(b) - int(a) == 2]
        if short:
            out += [
                "",
                f"The {names(short)} window{'s' if len(short) > 1 else ''} span 2 epochs: "
                "a window variance is then (S_a − S_b)²/4, one squared half-difference of "
                "two errors, so EVA ranks images by single-epoch changes.",
            ]
    return "\n".join(out)


# ----------------------------------------------------------------------------- 02 benchmark


def _vs_reference_sentence(
    at: pd.DataFrame,
    column: str,
    methods: Sequence[str],
    reference: str,
    metric: str,
    kind: str = "better",
) -> tuple[str, list]:
    """Every method − reference at one rate, grouped by verdict; returns the text and the
    comparisons (method, diff, ci95, n, verdict)."""
    rows = []
    for m in methods:
        d = _one(at, column, m, reference, metric)
        if d["n"]:
            rows.append(
                (m, d["diff"], d["ci95"], d["n"], stats.verdict(d["diff"], d["ci95"], kind))
            )
    if not rows:
        return "", rows
    ref = label(reference)
    groups = {
        HOLDS: f"beat {ref}",
        CONTRADICTED: f"fall below {ref}",
        INCONCLUSIVE: f"{word(INCONCLUSIVE)} against {ref}",
    }
    parts = []
    for v, head in groups.items():
        items = [f"{label(m)} {pm(d, c)}" for m, d, c, _, w in rows if w == v]
        if items:
            parts.append(f"{head}: {', '.join(items)}")
    return "; ".join(parts) + f" ({seeds_text(r[3] for r in rows)})", rows


def benchmark(
    table: pd.DataFrame, rates: Sequence[float], metric: str = CLEAN, reference: str = "random"
) -> str:
    """Which methods beat or lose to Random at each of ``rates`` (clean protocol), with
    the seed-paired difference and its interval, per training budget.

    ``table``: one row per run with ``arm`` (or ``method``), ``rate``, ``seed``,
    ``metric`` (a fraction) and optionally ``budget``."""
    column = "arm" if _has(table, ("arm",)) else "method"
    if not _has(table, (column, "rate", "seed", metric)):
        return "No benchmark run is in the results yet, so no method can be set against Random."
    methods = [m for m in _order(table[column]) if m not in (reference, "full")]
    budgets = list(dict.fromkeys(table["budget"])) if "budget" in table else ["epochs"]
    budgets.sort(key=lambda b: b != "epochs")
    out = [
        f"Each method's accuracy minus {label(reference)}'s at the same rate and seed, in "
        "points (clean protocol: test split, final epoch; ± is the 95 % t-interval of the "
        "mean difference). A method *beats* Random when the whole interval is above 0 "
        "(claim 1's verdict *holds* for EVA) and *falls below* it when the whole interval "
        "is below 0.",
        "",
    ]
    for rate in rates:
        for budget in budgets:
            at = _at(_budget(table, budget), "rate", rate)
            where = f"At {rate_text(rate)}" + (
                "" if budget == "epochs" else f" with the `{budget}` budget"
            )
            if at.empty:
                if budget == "epochs":
                    out.append(f"- {where}: no run is in the results yet.")
                continue
            if reference not in set(at[column]):
                out.append(
                    f"- {where}: {label(reference)} has no run yet, so no method can "
                    "be compared with it."
                )
                continue
            text, rows = _vs_reference_sentence(at, column, methods, reference, metric)
            if not rows:
                out.append(f"- {where}: no other method has a run on the same seeds yet.")
                continue
            out.append(f"- {where}: {text}.")
            missing = [label(m) for m in methods if m not in {r[0] for r in rows}]
            if missing and budget == "epochs":
                out[-1] += f" Not run yet: {names(missing)}."
    return "\n".join(out)


# ----------------------------------------------------------------------------- 03 ablation


def _differences(
    diff: pd.DataFrame,
    kind: str,
    claim: str,
    rates: Sequence[float] | None = None,
    protocol: str = "clean",
) -> list[str]:
    """One bullet per comparison of an :func:`evalib.ablations.paired_difference` frame:
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


def ablation(
    table: pd.DataFrame,
    diff: pd.DataFrame,
    random: pd.DataFrame | None = None,
    rates: Sequence[float] | None = None,
    metric: str = CLEAN,
) -> str:
    """Claim 3 on the page's runs: VAR − EXP on the same windows per rate, why (EXP keeps
    the hardest images and falls below Random), and whether VAR and EXP are below Random
    at the lowest rate.

    ``table``: the ablation runs (``method`` exp_s, var_s, exp_d, var_d, ``rate``,
    ``seed``, ``metric``); ``diff``: the page's VAR − EXP differences
    (:func:`evalib.ablations.paired_difference`); ``random``: Random's runs; ``rates``:
    the rates claim 3 is judged at (the profile's low rates; every rate when None)."""
    out = [
        "**Variance against expectation on the same windows** (clean protocol, accuracy "
        "points, paired by seed, ± 95 % t-interval; claim 3 expects > 0):",
        "",
    ]
    if _has(diff, ("comparison", "rate", "diff", "ci95", "count")):
        out += _differences(diff, "better", "claim 3", rates)
    else:
        out.append("- No VAR − EXP difference is in the results yet.")
    if not _has(table, ("method", "rate", "seed", metric)) or (table["method"] == "full").all():
        return "\n".join(out)
    low = float(table.loc[table["method"] != "full", "rate"].min())
    if not _has(random, ("method", "rate", "seed", metric)) or _at(random, "rate", low).empty:
        out += [
            "",
            f"Random has no run at {rate_text(low)} yet, so the ablation arms cannot "
            "be set against it.",
        ]
        return "\n".join(out)
    both = _at(pd.concat([table, random], ignore_index=True), "rate", low)
    arms = ("exp_s", "var_s", "exp_d", "var_d")
    vs = {m: _one(both, "method", m, "random", metric) for m in arms}
    acc = {m: _mean(both, "method", m, metric) for m in (*arms, "random")}
    seeds = seeds_text(v["n"] for v in vs.values() if v["n"])
    exp_arms = [m for m in ("exp_s", "exp_d") if vs[m]["n"]]
    why = []
    if exp_arms:
        worst = min(exp_arms, key=lambda m: vs[m]["diff"])
        w = vs[worst]
        why.append(
            "**Why.** EXP keeps the images with the highest mean error in its window, the "
            "hardest ones, as the score baselines of claim 2 do (EL2N ranks like EXP-S on the "
            f"first epochs). At {rate_text(low)} its coresets train to "
            + names([f"{_acc(acc[m])} ({label(m)})" for m in exp_arms])
            + f" against Random's {_acc(acc['random'])}; {label(worst)} − Random is "
            f"{pm(w['diff'], w['ci95'])} points ({seeds}){_reading(w)}."
        )
    for v_arm, e_arm in (("var_s", "exp_s"), ("var_d", "exp_d")):
        v, e = vs[v_arm], vs[e_arm]
        if not (v["n"] and e["n"]):
            continue
        lead = v["diff"] - e["diff"]
        if lead <= 0:
            how = f"{label(v_arm)} does not lead here"
        elif e["diff"] < 0 and -e["diff"] > max(v["diff"], 0):
            how = "VAR leads mostly because EXP falls below Random"
        else:
            how = "VAR leads mostly because it rises above Random"
        why.append(
            f"Against Random at {rate_text(low)}, {label(e_arm)} is "
            f"{num(e['diff'], 1, True)} and {label(v_arm)} {num(v['diff'], 1, True)} "
            f"points, so {label(v_arm)} − {label(e_arm)} = {num(lead, 1, True)}: "
            f"{how}."
        )
    var_arms = [m for m in ("var_s", "var_d") if vs[m]["n"]]
    if var_arms:
        items = [f"{label(m)} − Random {pm(vs[m]['diff'], vs[m]['ci95'])}" for m in var_arms]
        sides = {m: side(vs[m]["diff"], vs[m]["ci95"], vs[m]["n"]) for m in (*exp_arms, *var_arms)}
        if not all(_finite(vs[m]["ci95"]) for m in var_arms):
            end = (
                f"one seed gives no interval, so whether they are below Random is "
                f"{word(INCONCLUSIVE)}"
            )
        else:
            below = [m for m in var_arms if sides[m] == "below Random"]
            exp_below = [m for m in exp_arms if sides[m] == "below Random"]
            if len(below) == len(var_arms) and exp_below:
                end = (
                    f"{names([label(m) for m in below + exp_below])} are all below Random: "
                    "winning the ablation is not beating random selection"
                )
            else:
                end = "; ".join(f"{label(m)} is {sides[m]}" for m in var_arms)
        why.append(f"At {rate_text(low)}, {' and '.join(items)} points ({seeds}): {end}.")
    return "\n".join([*out, "", " ".join(why)] if why else out)


# ----------------------------------------------------------------------------- 04 dual window


def dual_window(
    diff: pd.DataFrame,
    overlap: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
    share: Mapping[str, float] | None = None,
    missing: pd.DataFrame | None = None,
    rates: Sequence[float] | None = None,
    metric: str = CLEAN,
) -> str:
    """Claim 4 (dual − single window), the two EVAs (the paper's formula and the
    official code's) compared by overlap and by trained accuracy, and the zero-fill
    convention on drop-last recordings.

    ``diff``: the page's dual − single differences; ``overlap``: paper vs official per
    rate (``rate, m, intersection, jaccard``, optional ``spearman``); ``table``: the
    page's runs (``method`` var_d and eva_official among them); ``share``: from
    :func:`evalib.ablations.window_variance_share`; ``missing``: from
    :func:`evalib.ablations.missing_effect`, with a ``recording`` column; ``rates``: the
    rates claim 4 is judged at (every rate when None)."""
    out = [
        "**Two windows against one** (clean protocol, accuracy points, paired by seed, "
        "± 95 % t-interval; claim 4 expects VAR-D above VAR-S, each on its tuned windows):",
        "",
    ]
    if _has(diff, ("comparison", "rate", "diff", "ci95", "count")):
        var = diff[diff["comparison"].str.startswith("VAR")]
        out += _differences(var, "better", "claim 4", rates)
        other = diff[~diff["comparison"].str.startswith("VAR")]
        if len(other):
            out += _differences(other, "better", "'dual beats single' for the mean", rates)
    else:
        out.append("- No dual − single difference is in the results yet.")
    out += ["", "**The paper's EVA and the official code's EVA.**"]
    if _has(overlap, ("rate", "m", "intersection", "jaccard")):
        o = overlap.sort_values("rate")
        parts = [
            f"{int(r['intersection']):,} of {int(r['m']):,} images at {rate_text(r['rate'])} "
            f"(Jaccard {num(r['jaccard'], 2)})"
            for _, r in o.iterrows()
        ]
        text = f"On the same dynamics and windows the two coresets share {'; '.join(parts)}"
        if "spearman" in o and _finite(o["spearman"].iloc[0]):
            text += (
                f", and the two scores have Spearman rank correlation "
                f"{num(o['spearman'].iloc[0], 2)} over all images"
            )
        out.append(text + " (one surrogate, so no interval).")
    else:
        out.append("The overlap of the two selections is not computed yet.")
    if share and _finite(share.get("early_share")):
        e = float(share["early_share"])
        big = "early" if e >= 0.5 else "late"
        out.append(
            f"The early window holds {percent(e)} of the summed window variance (early "
            f"{share.get('early_total', math.nan):.3g}, late "
            f"{share.get('late_total', math.nan):.3g}): the paper's plain sum follows the "
            f"{big} window, while the official code gives each window half the weight "
            "whatever its total."
        )
    paper_arm = "var_d"  # the paper's formula: on the published windows where trained so
    if _has(table, ("method",)) and "eva_published" in set(table["method"]):
        paper_arm = "eva_published"
    if _has(table, ("method", "rate", "seed", metric)) and {"eva_official", paper_arm} <= set(
        table["method"]
    ):
        d = _paired(table, "method", "eva_official", paper_arm, ("rate",), metric)
        parts = []
        for _, r in d.iterrows():
            at = _at(table, "rate", r["rate"])
            a = _mean(at, "method", "eva_official", metric)
            b = _mean(at, "method", paper_arm, metric)
            d_r = {"diff": r["diff"], "ci95": r["ci95"], "n": r["n"]}
            parts.append(
                f"{pm(r['diff'], r['ci95'])} at {rate_text(r['rate'])} ("
                f"{num(a['mean'])} % vs {num(b['mean'])} %{_reading(d_r, PAPER_EVA)})"
            )
        if parts:
            out.append(
                f"Trained on their coresets, the official code's EVA minus the paper's "
                f"({label(paper_arm)}) is {'; '.join(parts)} ({seeds_text(d['n'])})."
            )
    else:
        out.append(
            "The official code's EVA has no trained run beside the paper's yet, so "
            "their accuracies cannot be compared."
        )
    if _has(
        missing, ("recording", "rate", "jaccard", "affected_all", "affected_mask", "affected_zero")
    ):
        dl = missing[missing["recording"] != "every sample, every epoch"].sort_values("rate")
        full = missing[missing["recording"] == "every sample, every epoch"]
        if len(dl) and not dl["affected_all"].astype(float).any():
            out += [
                "",
                "**Zero-filled epochs.** With a drop-last loader at this batch size no "
                "training image misses an epoch inside a window, so both conventions select "
                f"the same coresets (Jaccard {num(dl['jaccard'].min(), 2)} at every rate).",
            ]
        elif len(dl):
            r = dl.iloc[0]
            text = (
                f"**Zero-filled epochs.** With a drop-last loader {percent(r['affected_all'])} of "
                "the training images miss an epoch inside a window; in the "
                f"{rate_text(r['rate'])} EVA coreset they make up {percent(r['affected_zero'])} "
                f"when a missing epoch counts as S = 0 (official code) and "
                f"{percent(r['affected_mask'])} when it is left out, and the two coresets have "
                f"Jaccard {num(r['jaccard'], 2)}"
            )
            if len(full):
                text += (
                    f"; recorded every epoch, the two conventions give Jaccard "
                    f"{num(full['jaccard'].min(), 2)} at every rate"
                )
            out += ["", text + "."]
    return "\n".join(out)


# ----------------------------------------------------------------------------- 05 window grid


def window_grid(
    choice: pd.DataFrame,
    fresh: pd.DataFrame | None = None,
    grid: pd.DataFrame | None = None,
    published: str | None = None,
    tuning_seed: int | None = None,
    metric: str = CLEAN,
) -> str:
    """Which windows validation chose, how the choice tests on fresh seeds against the
    published windows and Random, the optimism of reading the tuning run, and how much
    the window matters across the grid.

    ``choice``: the page's ``window_choice`` table (arm, rate, chosen, ``val (tuning
    seed)``, ``test (fresh seeds)``, ``fresh seeds``, ``published pair val``,
    ``optimism``); ``fresh``: the reported seeds' runs (``arm`` eva_tuned,
    eva_published, random, ``rate``, ``seed``, ``budget``, ``metric``); ``grid``: the
    grid summary (``method``, ``windows``, ``rate``, ``protocol``, ``mean``);
    ``published``: the published pair's label."""
    seed = f"tuning seed {tuning_seed}" if tuning_seed is not None else "the tuning seed"
    if not _has(choice, ("arm", "rate", "chosen", "val (tuning seed)")):
        return (
            "No tuning run is in the results yet, so no window has been chosen: run "
            "this page's grid first."
        )
    out = []
    has_fresh = _has(fresh, ("arm", "rate", "seed", metric))
    f = _budget(fresh, "epochs") if has_fresh else None
    for _, c in choice[choice["arm"] == "eva"].sort_values("rate").iterrows():
        rate = float(c["rate"])
        pub_val = c.get("published pair val", math.nan)
        same = published is not None and c["chosen"] == published
        text = (
            f"- **EVA at {rate_text(rate)}**: validation chose {c['chosen']}"
            + (" — the published pair itself" if same else "")
            + f" (final-model validation accuracy {num(c['val (tuning seed)'])} % on {seed}"
        )
        if not same and _finite(pub_val) and published:
            text += f"; the published pair {published}: {num(pub_val)} %"
        text += ")."
        at = _at(f, "rate", rate) if has_fresh else None
        if at is None or at[at["arm"] == "eva_tuned"].empty:
            text += (
                " The chosen windows have no run on the reported seeds yet (the benchmark "
                "page trains them), so their test accuracy is not known."
            )
            out.append(text)
            continue
        acc = {a: _mean(at, "arm", a, metric) for a in ("eva_tuned", "eva_published", "random")}
        short = {
            "eva_tuned": "tuned EVA",
            "eva_published": "published-window EVA",
            "random": "Random",
        }
        shown = [f"{short[a]} {_acc(acc[a])}" for a in acc if acc[a]["count"]]
        text += f" On the reported seeds (clean protocol, test): {', '.join(shown)}"
        for b in ("eva_published", "random"):
            d = _one(at, "arm", "eva_tuned", b, metric)
            if d["n"]:
                v = stats.verdict(d["diff"], d["ci95"], "better")
                name = "published" if b == "eva_published" else label(b)
                text += (
                    f"; tuned − {name} {pm(d['diff'], d['ci95'])} points "
                    f"({seeds_text([d['n']])}): {'claim 1, ' if b == 'random' else ''}"
                    f"'tuned beats {name}' {is_word(v)}"
                )
        out.append(text + ".")
    if not out:
        out.append("- EVA has no chosen windows yet.")
    if "optimism" in choice and choice["optimism"].notna().any():
        o = choice.dropna(subset=["optimism"])
        eva = o[o["arm"] == "eva"]
        text = "**Optimism.** "
        if len(eva):
            r = eva.sort_values("rate").iloc[0]
            text += (
                f"Read off the tuning run, EVA's chosen windows at {rate_text(r['rate'])} "
                f"promise {num(r['val (tuning seed)'])} %; the reported seeds deliver "
                f"{num(r['test (fresh seeds)'])} % on test ({int(r['fresh seeds'])} "
                f"seed{'s' if int(r['fresh seeds']) != 1 else ''}), an optimism of "
                f"{num(r['optimism'], 1, True)} points. "
            )
        text += (
            f"Over the {len(o)} arm × rate choices with fresh runs, the optimism runs from "
            f"{num(o['optimism'].min(), 1, True)} to {num(o['optimism'].max(), 1, True)} "
            f"points (mean {num(o['optimism'].mean(), 1, True)}); part of it is the "
            "validation split reading differently from the test split, not the choice "
            "alone."
        )
        out += ["", text]
    else:
        out += [
            "",
            "**Optimism.** No chosen arm has runs on the reported seeds yet, so the "
            "optimism of a tuned number cannot be measured.",
        ]
    if _has(grid, ("method", "windows", "rate", "protocol", "mean")):
        g = grid[(grid["protocol"] == "clean") & grid["method"].isin(("var_s", "var_d"))]
        parts = []
        for rate, gr in g.groupby("rate"):
            text = (
                f"at {rate_text(rate)}, the {len(gr)} VAR-S windows and EVA pairs reach "
                f"{num(gr['mean'].min())}–{num(gr['mean'].max())} % test accuracy"
            )
            pairs = gr[gr["method"] == "var_d"].sort_values("mean", ascending=False)
            if published and published in set(pairs["windows"]):
                rank = list(pairs["windows"]).index(published) + 1
                text += f" and the published pair ranks {rank} of {len(pairs)} EVA pairs"
            parts.append(text)
        if parts:
            out += [
                "",
                f"**How much the window matters.** On {seed} (one run per cell, so no "
                f"interval): {'; '.join(parts)}.",
            ]
    return "\n".join(out)


# ----------------------------------------------------------------------------- 06 cross-arch


def cross_architecture(
    gaps: pd.DataFrame, arch: pd.DataFrame | None = None, margin: float = MARGIN
) -> str:
    """Claim 6 on the page's runs: whether EVA's coreset, chosen on the surrogate's
    network, still matches or beats Random (within ``margin`` points) on each other
    network, and how it fares against CCS.

    ``gaps``: the page's differences (``comparison`` "EVA − Random" / "EVA − CCS",
    ``model_label``, ``rate``, ``protocol``, ``diff``, ``ci95``, ``count``);
    ``arch``: the page's networks (``role`` "surrogate" / "transfer", ``model_label``)."""
    if not _has(gaps, ("comparison", "model_label", "rate", "diff", "ci95", "count")):
        return "No transfer run is in the results yet, so claim 6 is not tested here."
    surrogate = None
    if _has(arch, ("role", "model_label")) and (arch["role"] == "surrogate").any():
        surrogate = str(arch.loc[arch["role"] == "surrogate", "model_label"].iloc[0])
    g = gaps[gaps["protocol"] == "clean"] if "protocol" in gaps else gaps
    out = [
        f"Claim 6 holds for a network when EVA − Random there is at least −{margin:g} point "
        "with 95 % confidence (clean protocol, accuracy points, paired by seed):",
        "",
    ]
    rnd = g[g["comparison"] == "EVA − Random"]
    verdicts = []
    for model, gm in rnd.groupby("model_label", sort=False):
        gm = gm.sort_values("rate")
        vs = [stats.verdict(r["diff"], r["ci95"], "matches", margin) for _, r in gm.iterrows()]
        parts = [f"{pm(r['diff'], r['ci95'])} at {rate_text(r['rate'])}" for _, r in gm.iterrows()]
        own = surrogate is not None and model == surrogate
        head = f"- {model}" + (" (the surrogate's own network)" if own else "")
        tail = (
            f": on the network that chose the coreset, 'matches or beats Random' "
            f"{is_word(stats.combine(vs))}"
            if own
            else f": transfer {is_word(stats.combine(vs))}"
        )
        out.append(f"{head}: EVA − Random {'; '.join(parts)} ({seeds_text(gm['count'])}){tail}.")
        if not own:
            verdicts += vs
    if not verdicts:
        out.append("- No network other than the surrogate's has EVA and Random runs yet.")
    else:
        out += [
            "",
            f"Over every other network and rate, claim 6 {is_word(stats.combine(verdicts))}"
            f" (of {_count(len(verdicts), 'comparison')}: {sum(v == HOLDS for v in verdicts)} "
            f"hold, {sum(v == CONTRADICTED for v in verdicts)} contradicted).",
        ]
    ccs = g[g["comparison"] == "EVA − CCS"]
    if len(ccs):
        worst = ccs.loc[ccs["diff"].idxmin()]
        best = ccs.loc[ccs["diff"].idxmax()]
        out.append(
            f"Against CCS, EVA − CCS runs from {pm(worst['diff'], worst['ci95'])} "
            f"({worst['model_label']}, {rate_text(worst['rate'])}) to "
            f"{pm(best['diff'], best['ci95'])} ({best['model_label']}, "
            f"{rate_text(best['rate'])}) ({seeds_text(ccs['count'])})."
        )
    return "\n".join(out)


# ----------------------------------------------------------------------------- 07–09 related


def _matches_lines(
    table: pd.DataFrame,
    column: str,
    methods: Sequence[str],
    reference: str,
    by: str,
    by_text,
    metric: str,
    pair_on: Sequence[str],
    margin: float = MARGIN,
) -> tuple[list[str], dict[str, list[str]]]:
    """Per method: method − reference at each value of ``by``, judged as 'matches or
    beats' within ``margin``; returns bullets and the verdicts per method."""
    lines, verdicts = [], {}
    for m in methods:
        d = _paired(table, column, m, reference, (by,), metric, pair_on)
        if d.empty:
            continue
        vs = [stats.verdict(r["diff"], r["ci95"], "matches", margin) for _, r in d.iterrows()]
        verdicts[m] = vs
        parts = [f"{pm(r['diff'], r['ci95'])} at {by_text(r[by])}" for _, r in d.iterrows()]
        lines.append(
            f"- {label(m)} − {label(reference)}: {'; '.join(parts)} "
            f"({seeds_text(d['n'])}): 'matches or beats {label(reference)}' "
            f"{is_word(stats.combine(vs))}."
        )
    return lines, verdicts


def _who_matches(verdicts: Mapping[str, list[str]], reference: str, each: str = "rate") -> str:
    """Which methods match ``reference`` (within the margin) at every ``each``, which fall
    short of it somewhere, and for which the evidence is inconclusive."""
    groups: dict[str, list[str]] = {HOLDS: [], CONTRADICTED: [], INCONCLUSIVE: []}
    for m, vs in verdicts.items():
        groups.setdefault(stats.combine(vs), []).append(label(m))
    parts = []
    one = {k: len(v) == 1 for k, v in groups.items()}
    if groups[HOLDS]:
        parts.append(
            f"{names(groups[HOLDS])} {'matches' if one[HOLDS] else 'match'} "
            f"{reference} or better at every {each}"
        )
    if groups[CONTRADICTED]:
        parts.append(
            f"{names(groups[CONTRADICTED])} {'falls' if one[CONTRADICTED] else 'fall'} "
            f"short of {reference} by more than the margin at some {each}"
        )
    rest = groups[INCONCLUSIVE] + groups.get(UNTESTED, [])
    if rest:
        parts.append(f"for {names(rest)} the evidence is {word(INCONCLUSIVE)}")
    return "; ".join(parts)


def pruning_identified(
    core: pd.DataFrame,
    verdict_rows: Sequence[Mapping] | None = None,
    pruned: pd.DataFrame | None = None,
    metric: str = "accuracy",
) -> str:
    """PIE page: which coreset (HTL, EVA) matches Random at each rate, what pruning costs,
    and the page's claims.

    ``core``: coreset runs (``method`` pie, eva, random, ``rate``, ``seed``, ``metric``
    as a fraction); ``verdict_rows``: the page's :func:`evalib.pie_tables.verdicts`;
    ``pruned``: the dense/pruned table (``sparsity``, ``accuracy``,
    ``worst_class_accuracy``, ``pie_test`` in %)."""
    out = []
    if _has(core, ("method", "rate", "seed", metric)) and "random" in set(core["method"]):
        methods = [m for m in _order(core["method"]) if m != "random"]
        lines, verdicts = _matches_lines(
            core, "method", methods, "random", "rate", rate_text, metric, ("seed",)
        )
        out += [
            f"**Which coreset matches Random** (test accuracy in points, paired by seed, ± 95 % "
            f"t-interval; 'matches' = at least −{MARGIN:g} point with 95 % confidence): "
            f"{_who_matches(verdicts, 'Random')}.",
            "",
            *lines,
        ]
    else:
        out.append("No coreset run with Random beside it is in the results yet.")
    if _has(pruned, ("sparsity", "accuracy", "worst_class_accuracy")):
        dense = pruned[pruned["sparsity"] == 0]
        top = pruned.loc[pruned["sparsity"].idxmax()]
        if len(dense) and float(top["sparsity"]) > 0:
            d = dense.iloc[0]
            text = (
                f"**Pruning.** Removing {percent(top['sparsity'])} of the weights moves "
                f"test accuracy from {num(d['accuracy'])} % to {num(top['accuracy'])} % and "
                f"worst-class accuracy from {num(d['worst_class_accuracy'])} % to "
                f"{num(top['worst_class_accuracy'])} % (mean over the dense networks)"
            )
            if "pie_test" in pruned:
                text += f"; {num(top['pie_test'])} % of the test images are then PIEs"
            out += ["", text + "."]
    rel = related_lines(verdict_rows)
    if rel:
        out += [
            "",
            "**The page's claims** (mean paired difference ± 95 % CI half-width, n seeds):",
            "",
            *rel,
        ]
    return "\n".join(out)


def distillation(
    results: pd.DataFrame, verdict_rows: Sequence[Mapping] | None = None, metric: str = "test_acc"
) -> str:
    """Distillation page: per dataset, whether DM's distilled images and EVA's real
    images match random real images at each images-per-class budget, and the page's
    claims (the predictor correlations among them).

    ``results``: evaluation runs (``dataset``, ``method`` distilled, eva, random, full,
    ``ipc``, ``seed``, ``metric`` as a fraction)."""
    out = []
    if not _has(results, ("dataset", "method", "ipc", "seed", metric)):
        out.append("No distillation run is in the results yet.")
    else:
        t = results.dropna(subset=["ipc"]).astype({"ipc": int})
        methods = [m for m in _order(t["method"]) if m not in ("random", "full")]
        summary = {}
        for flag, g in t.groupby("dataset", sort=False):
            if "random" not in set(g["method"]):
                out.append(f"- {dataset_title(flag)}: no random real subset to compare with yet.")
                continue
            lines, verdicts = _matches_lines(
                g, "method", methods, "random", "ipc", lambda i: f"IPC {int(i)}", metric, ("seed",)
            )
            out += [
                f"- **{dataset_title(flag)}**: {_who_matches(verdicts, 'random images', 'budget')}."
            ]
            out += ["  " + line for line in lines]
            for m, vs in verdicts.items():
                summary.setdefault(m, []).extend(vs)
        if summary:
            head = (
                f"**Against random real images at equal images per class** (test accuracy "
                f"in points, paired by evaluation seed, ± 95 % t-interval; 'matches' = at least "
                f"−{MARGIN:g} point with 95 % confidence). Over every dataset and budget: "
                f"{_who_matches(summary, 'random images', 'budget')}."
            )
            out = [head, "", *out]
    rel = related_lines(verdict_rows)
    if rel:
        out += ["", "**The page's claims:**", "", *rel]
    return "\n".join(out)


def dad(
    runs: pd.DataFrame,
    verdict_rows: Sequence[Mapping] | None = None,
    classification: pd.DataFrame | None = None,
    rho: float | None = None,
    metric: str = "test_dice",
) -> str:
    """DAD page: which pruned training set (DAD's three rules, pixel EL2N) matches
    Random's test Dice at each kept fraction, the same question for DAD's
    classification form, the DAD–EL2N rank correlation and the page's claims.

    ``runs``: pruning runs (``method``, ``rate``, ``seed``, ``metric`` 0–1);
    ``classification``: coreset runs of the classification task (``method`` dad, el2n,
    random, ``rate``, ``seed``, ``clean_test_acc``)."""
    out = []
    if _has(runs, ("method", "rate", "seed", metric)) and "random" in set(runs["method"]):
        methods = [m for m in _order(runs["method"]) if m != "random"]
        lines, verdicts = _matches_lines(
            runs, "method", methods, "random", "rate", rate_text, metric, ("seed",)
        )
        out += [
            f"**Which pruned set matches Random** (test Dice × 100, paired by seed, ± 95 % "
            f"t-interval; 'matches' = at least −{MARGIN:g} Dice point with 95 % "
            f"confidence): {_who_matches(verdicts, 'Random', 'kept fraction')}.",
            "",
            *lines,
        ]
    else:
        out.append("No pruning run with Random beside it is in the results yet.")
    if _finite(rho):
        out += [
            "",
            f"DAD and pixel EL2N rank the training mosaics with Spearman correlation "
            f"{num(rho, 2)} (one scoring run, so no interval).",
        ]
    if _has(classification, ("method", "rate", "seed", CLEAN)) and "random" in set(
        classification["method"]
    ):
        methods = [m for m in _order(classification["method"]) if m != "random"]
        lines, verdicts = _matches_lines(
            classification, "method", methods, "random", "rate", rate_text, CLEAN, ("seed",)
        )
        out += [
            "",
            f"**The classification form** (coreset test accuracy in points, clean "
            f"protocol, paired by seed): "
            f"{_who_matches(verdicts, 'Random')}.",
            "",
            *lines,
        ]
    rel = related_lines(verdict_rows)
    if rel:
        out += ["", "**The page's claims:**", "", *rel]
    return "\n".join(out)


# ----------------------------------------------------------------------------- 10 claims


def _worst(group: pd.DataFrame) -> str:
    """The comparison of a claim that argues most against it, as ``"part at 2 %: −17.9 ±
    2.3"``."""
    sign = group["kind"].map({"better": 1, "worse": -1, "matches": 1, "no_better": -1}).fillna(1)
    g = group.assign(_m=sign * group["diff"]).dropna(subset=["_m"])
    if g.empty:
        return ""
    r = g.loc[g["_m"].idxmin()]
    where = str(r.get("part", "difference"))
    if isinstance(r.get("model"), str) and r.get("model"):
        where += f" on {r['model']}"
    return f"{where} at {rate_text(r['rate'])}: {pm(r['diff'], r['ci95'])}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _claims_are(claims: Sequence[str], cat: str) -> str:
    """``"claims 2a and 3 **hold**"``, ``"claim 1 is **contradicted**"``."""
    many = len(claims) > 1
    if cat == HOLDS:
        verb = word("hold" if many else "holds")
    else:
        verb = f"{'are' if many else 'is'} {word(cat)}"
    return f"claim{'s' if many else ''} {names(list(claims))} {verb}"


def claims_summary(
    verdicts: pd.DataFrame,
    results: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
) -> str:
    """One paragraph: the verdicts by dataset under the clean protocol (paper budget),
    the verdicts the paper's protocol or the step floor changes, the comparison that
    decides each contradicted claim, the seeds behind them and what is still missing.

    ``verdicts``: :func:`evalib.claims.summary` (dataset, protocol, budget, claim,
    verdict); ``results``: the comparisons (:func:`evalib.claims.evaluate`);
    ``coverage``: jobs found and missing per dataset (column ``missing``)."""
    missing = ""
    if _has(coverage, ("missing",)):
        m = int(pd.to_numeric(coverage["missing"], errors="coerce").fillna(0).sum())
        if m:
            missing = (
                f" {m} of the runs the claims read are not in the results yet, so "
                "verdicts may still change."
            )
    if not _has(verdicts, ("dataset", "protocol", "claim", "verdict")):
        return (
            "No claim has been judged yet: none of the runs the claims read are in the "
            "results." + missing
        )
    v = verdicts.assign(cat=verdicts["verdict"].map(category))
    if "budget" not in v:
        v["budget"] = "epochs"
    main = v[v["budget"] == "epochs"] if (v["budget"] == "epochs").any() else v
    primary = "clean" if (main["protocol"] == "clean").any() else str(main["protocol"].iloc[0])
    heads = {
        "clean": "Under the clean protocol (test split, final epoch)",
        "paper": "Under the paper's protocol (validation split, best epoch)",
    }
    per = []
    for flag, g in main[main["protocol"] == primary].groupby("dataset", sort=False):
        by: dict[str, list[str]] = {}
        for _, r in g.iterrows():
            by.setdefault(r["cat"], []).append(str(r["claim"]))
        parts = [
            _claims_are(by[c], c)
            for c in (HOLDS, CONTRADICTED, INCONCLUSIVE, UNTESTED, "other")
            if c in by
        ]
        per.append(f"on {dataset_title(flag)} {names(parts)}")
    sentences = [f"{heads.get(primary, f'Under the {primary} protocol')}, {'; '.join(per)}."]

    def flips(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
        both = a.merge(b, on=["dataset", "claim"], suffixes=("", "_b"))
        return [
            f"claim {r['claim']} on {dataset_title(r['dataset'])} ({r['cat']} → {r['cat_b']})"
            for _, r in both.iterrows()
            if r["cat"] != r["cat_b"] and UNTESTED not in (r["cat"], r["cat_b"])
        ]

    for protocol in sorted(set(main["protocol"]) - {primary}):
        f = flips(main[main["protocol"] == primary], main[main["protocol"] == protocol])
        head = heads.get(protocol, f"Under the {protocol} protocol").replace("Under", "under")
        sentences.append(
            f"{head[0].upper() + head[1:]}, "
            + (
                f"{_count(len(f), 'verdict')} {'differs' if len(f) == 1 else 'differ'}: {names(f)}."
                if f
                else "no verdict differs."
            )
        )
    floor = v[(v["budget"] != "epochs") & (v["protocol"] == primary)]
    if len(floor) and (main["budget"] == "epochs").any():
        f = flips(main[main["protocol"] == primary], floor)
        sentences.append(
            f"With the step floor (budget `{floor['budget'].iloc[0]}`), "
            + (
                f"{_count(len(f), 'verdict')} {'changes' if len(f) == 1 else 'change'}: {names(f)}."
                if f
                else "no verdict changes."
            )
        )
    if _has(results, ("dataset", "protocol", "claim", "diff", "ci95", "n_seeds", "kind")):
        res = results[results["protocol"] == primary]
        if "budget" in res:
            res = res[res["budget"] == "epochs"]
        decided = []
        against = main[(main["protocol"] == primary) & (main["cat"] == CONTRADICTED)]
        for _, r in against.iterrows():
            g = res[
                (res["dataset"] == r["dataset"]) & (res["claim"].astype(str) == str(r["claim"]))
            ]
            text = _worst(g)
            if text:
                decided.append(f"claim {r['claim']} on {dataset_title(r['dataset'])}, {text}")
        if decided:
            sentences.append(
                f"Most against each contradicted claim (points ± 95 % t-interval): "
                f"{'; '.join(decided)}."
            )
        n = pd.to_numeric(res["n_seeds"], errors="coerce")
        if (n > 0).any():
            sentences.append(f"Each comparison rests on {seeds_text(n[n > 0])}.")
    return " ".join(sentences) + missing
