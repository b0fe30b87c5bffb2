"""Conclusions of the pages on dynamics, Table 1 and the variance ablation (01–03)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evalib.book.lessons.text import (
    CLEAN,
    _acc,
    _at,
    _budget,
    _differences,
    _finite,
    _has,
    _mean,
    _one,
    _reading,
    names,
    num,
    pm,
    rate_text,
    seeds_text,
    side,
    word,
)
from evalib.studies import stats
from evalib.studies.labels import budget_label, label, ordered
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE

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
    methods = [m for m in ordered(table[column]) if m not in (reference, "full")]
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
                "" if budget == "epochs" else f" with the {budget_label(budget)}"
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


def ablation(
    table: pd.DataFrame,
    diff: pd.DataFrame,
    random: pd.DataFrame | None = None,
    rates: Sequence[float] | None = None,
    metric: str = CLEAN,
) -> str:
    """Claim 3 on the page's runs: VAR − EXP per rate, each arm on its own tuned windows, why (EXP keeps
    the hardest images and falls below Random), and whether VAR and EXP are below Random
    at the lowest rate.

    ``table``: the ablation runs (``method`` exp_s, var_s, exp_d, var_d, ``rate``,
    ``seed``, ``metric``); ``diff``: the page's VAR − EXP differences
    (:func:`evalib.studies.ablations.paired_difference`); ``random``: Random's runs; ``rates``:
    the rates claim 3 is judged at (the profile's low rates; every rate when None)."""
    out = [
        "**Variance against expectation, each arm on the windows tuned for it** (clean "
        "protocol, accuracy points, paired by seed, ± 95 % t-interval; claim 3 expects > 0):",
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
