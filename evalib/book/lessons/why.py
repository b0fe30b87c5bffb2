"""Why EVA's coresets lose to Random here: what they hold class by class, whether any
window of the grid could have changed the verdict, the class-balanced arms, and which
compared arms selected identical coresets.

Pure functions of the tables of :mod:`evalib.studies.composition` and of the labelled
runs; used by the benchmark (02), window-grid (05) and claims (10) pages and by the
landing page's findings (:func:`evalib.book.findings.why_random_wins`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalib.book.lessons.text import (
    CLEAN,
    _at,
    _budget,
    _finite,
    _has,
    _one,
    is_word,
    names,
    num,
    percent,
    pm,
    rate_text,
    seeds_text,
)
from evalib.studies import stats
from evalib.studies.claims import identical_note
from evalib.studies.labels import budget_label, dataset_title, label, short

#: A class is *starved* when its mean share of the coreset is below this fraction of
#: Random's, *favoured* when above its inverse.
STARVED = 0.5


def _span(lo: object, hi: object, digits: int = 0) -> str:
    """``"3–10"`` or ``"7"`` when both ends agree."""
    a, b = num(lo, digits), num(hi, digits)
    return a if a == b else f"{a}–{b}"


def _pct_span(lo: object, hi: object) -> str:
    return f"{_span(100 * float(lo), 100 * float(hi))} %"  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- classes


def coreset_classes(
    summary: pd.DataFrame,
    top: pd.DataFrame | None = None,
    accuracy: pd.DataFrame | None = None,
    arm: str = "eva_tuned",
    reference: str = "random",
    rates: Sequence[float] | None = None,
    budget: str = "epochs",
) -> str:
    """What ``arm``'s coresets hold against ``reference``'s, per dataset and rate: the
    classes it starves (mean share below half of Random's) with their image counts and
    their share of the test split, the classes it favours, how much of the coreset its
    three largest classes hold, and the starved classes' test accuracy.

    ``summary``: :func:`evalib.studies.composition.share_summary`; ``top``:
    :func:`~evalib.studies.composition.top_classes_share`; ``accuracy``:
    :func:`~evalib.studies.composition.accuracy_summary` (accuracy in %)."""
    need = ("dataset", "arm", "rate", "class_name", "share", "vs_random")
    if not _has(summary, need) or arm not in set(summary["arm"]):
        return (
            f"The coresets of {label(arm)} are not in the results yet, so what they hold "
            "cannot be read."
        )
    if reference not in set(summary["arm"]):
        return f"{label(reference)} has no coreset in the results yet to compare with."
    out = []
    for (flag, rate), g in summary[summary["arm"] == arm].groupby(["dataset", "rate"]):
        if rates is not None and not np.isclose(float(rate), list(rates)).any():
            continue
        ref = summary[(summary["dataset"] == flag) & (summary["arm"] == reference)]
        ref = _at(ref, "rate", rate).set_index("class_name")
        if ref.empty:
            continue
        starved = g[g["vs_random"] < STARVED].sort_values("class")
        favoured = g[g["vs_random"] > 1 / STARVED].sort_values("vs_random", ascending=False)
        head = f"- **{dataset_title(flag)} at {rate_text(rate)}**: "
        one = len(starved) == 1
        if starved.empty:
            text = (head + f"the {short(arm)} coresets give no class less than half of "
                    f"{short(reference)}'s share")  # fmt: skip
        else:
            mine = starved["share"].sum()
            theirs = ref.loc[starved["class_name"], "share"].sum()
            text = (
                head + f"the {short(arm)} coresets hold "
                f"{_span(starved['count_min'].min(), starved['count_max'].max())} images "
                f"{'' if one else 'each '}of {names(list(starved['class_name']))} "
                f"({percent(mine)} of the coreset, against {percent(theirs)} of "
                f"{short(reference)}'s"
            )
            if "test_share" in starved and starved["test_share"].notna().all():
                text += (f"; {'this class is' if one else 'these classes are'} "
                         f"{percent(starved['test_share'].sum())} of the test split")  # fmt: skip
            text += ")"
        if len(favoured):
            text += (
                f", while {names(list(favoured['class_name']))} "
                f"{'gets' if len(favoured) == 1 else 'get'} "
                f"{_span(favoured['vs_random'].min(), favoured['vs_random'].max(), 1)}× "
                f"{short(reference)}'s share"
            )
        text += "."
        if _has(top, ("dataset", "arm", "rate", "top_share")):
            t = _at(top[top["dataset"] == flag], "rate", rate)
            a, r = t[t["arm"] == arm]["top_share"], t[t["arm"] == reference]["top_share"]
            if len(a) and len(r):
                text += (
                    f" The three largest classes of each coreset hold "
                    f"{_pct_span(a.min(), a.max())} of it, against {_pct_span(r.min(), r.max())} "
                    f"for {short(reference)}."
                )
        text += _starved_accuracy(accuracy, flag, rate, starved, arm, reference, budget)
        out.append(text)
    if not out:
        return f"{label(arm)} has no coreset at these rates in the results yet."
    lead = (
        f"Share of each class in the coresets, mean over the reported seeds (image counts: "
        f"range over seeds); a class is *starved* when {label(arm)} gives it less than half "
        f"of {label(reference)}'s share, *favoured* when more than twice."
    )
    return "\n".join([lead, "", *out])


def _starved_accuracy(accuracy, flag, rate, starved, arm, reference, budget) -> str:
    if starved.empty:
        return ""
    if not _has(accuracy, ("dataset", "arm", "rate", "class_name", "acc_min", "acc_max")):
        return (" Per-class test accuracy is not recorded for these runs yet, so what the "
                "models learn of the starved classes is not known.")  # fmt: skip
    acc = _at(accuracy[accuracy["dataset"] == flag], "rate", rate)
    acc = _budget(acc, budget)
    acc = acc[acc["class_name"].isin(starved["class_name"])]
    a, r = acc[acc["arm"] == arm], acc[acc["arm"] == reference]
    if a.empty:
        return (" Per-class test accuracy is not recorded for these runs yet, so what the "
                "models learn of the starved classes is not known.")  # fmt: skip
    text = (
        f" Trained on them, the models reach {_span(a['acc_min'].min(), a['acc_max'].max())} % "
        f"test accuracy on those classes ({seeds_text(a['seeds'])}"
    )
    if len(r):
        text += (
            f"; on {short(reference)}'s coresets {_span(r['acc_min'].min(), r['acc_max'].max())} %"
        )
    return text + ")."


# ----------------------------------------------------------------------------- the grid


_ARM_NAMES = {"eva": "EVA pairs", "exp_s": "EXP-S windows", "var_s": "VAR-S windows",
              "exp_d": "EXP-D pairs", "eva_cb": "class-balanced EVA pairs"}  # fmt: skip


def grid_robustness(robust: pd.DataFrame, tuning_seed: int | None = None, arm: str = "eva") -> str:
    """Whether any window of the tuning grid could have changed claim 1's verdict, per
    dataset (when the frame has a ``dataset`` column) and rate: how many of ``arm``'s
    settings beat the reference's worst reported seed, the best one *by test* (an upper
    bound no method could use), what validation chose and what it gave on the reported
    seeds; then the same count over the other tuned arms, and how many distinct coresets
    the arm's settings select.

    ``robust``: :func:`evalib.studies.composition.grid_robustness` (accuracies in %)."""
    need = ("rate", "arm", "settings", "ref_min", "ref_max", "best_test", "beat_worst")
    if not _has(robust, need):
        return "No tuning run is in the results yet, so the grid cannot be set against Random."
    seed = f"tuning seed {tuning_seed}" if tuning_seed is not None else "the tuning seed"
    frame = robust if "dataset" in robust else robust.assign(dataset="")
    out = []
    for (flag, rate), g in frame.groupby(["dataset", "rate"], sort=True):
        mine = g[g["arm"] == arm]
        if mine.empty or not _finite(mine["ref_min"].iloc[0]):
            continue
        r = mine.iloc[0]
        where = f"{dataset_title(flag)} at {rate_text(rate)}" if flag else rate_text(rate)
        ref = label(r.get("reference", "random"))
        n, beat = int(r["settings"]), int(r["beat_worst"])
        what = _ARM_NAMES.get(arm, f"{label(arm)} settings")
        if beat == 0:
            text = f"- **{where}**: none of the {n} {what}"
        else:
            text = f"- **{where}**: {beat} of the {n} {what}"
        text += (
            f" on {seed} beat{'s' if beat == 1 or beat == 0 else ''} {ref}'s worst reported "
            f"seed ({num(r['ref_min'])} %; {ref} {_span(r['ref_min'], r['ref_max'], 1)} % over "
            f"{seeds_text([r['ref_seeds']])})"
        )
        if beat and _finite(r.get("beat_best")):
            text += f", {int(r['beat_best'])} its best"
        text += (
            f". The best by test, {r['best_windows']} at {num(r['best_test'])} %, is an upper "
            "bound no method could use (it reads the test split)"
        )
        if isinstance(r.get("chosen"), str):
            text += f"; validation chose {r['chosen']} ({num(r['chosen_test'])} % on {seed}"
            if _finite(r.get("chosen_reported")):
                text += f", {num(r['chosen_reported'])} % on the reported seeds"
            text += ")"
        text += "."
        same_ref = (
            g["reference"] == r["reference"] if "reference" in g else pd.Series(True, g.index)
        )
        others = g[(g["arm"] != arm) & g["beat_worst"].notna() & same_ref]
        if len(others):
            n_beat = int(others["beat_worst"].sum())
            kinds = [f"{int(k)} {_ARM_NAMES.get(a, str(a))}"  # "28 EXP-D pairs"
                     for a, k in zip(others["arm"], others["settings"], strict=True)]  # fmt: skip
            conj = " or " if n_beat == 0 else " and "
            kinds = ", ".join(kinds[:-1]) + conj + kinds[-1] if len(kinds) > 1 else kinds[0]
            if n_beat == 0:
                text += (f" Nor does any of the {kinds} (best "
                         f"{num(others['best_test'].max())} %).")  # fmt: skip
            else:
                text += f" Of the {kinds}, {n_beat} {'does' if n_beat == 1 else 'do'}."
        if _finite(r.get("distinct")) and int(r["distinct"]) < n:
            text += (f" The {n} {what} select only {int(r['distinct'])} distinct coresets: "
                     "some pairs choose the same images.")  # fmt: skip
        for _, o in g[(g["arm"] != arm) & g["beat_worst"].notna() & ~same_ref].iterrows():
            k = int(o["beat_worst"])
            text += (
                f" Against {label(o['reference'])}, at {num(o['ref_min'])}–{num(o['ref_max'])} %, "
                f"{'none' if k == 0 else k} of the {int(o['settings'])} "
                f"{_ARM_NAMES.get(o['arm'], str(o['arm']))} beat{'s' if k <= 1 else ''} its worst "
                f"reported seed (best by test {num(o['best_test'])} %)."
            )
        out.append(text)
    if not out:
        return "The reference arm has no reported run at the tuning rates yet."
    return "\n".join(out)


def grid_verdict(robust: pd.DataFrame, arm: str = "eva") -> str:
    """One sentence over every dataset and rate of ``robust``: whether any of ``arm``'s
    settings, even picked by test, beats the reference's worst reported seed."""
    if not _has(robust, ("rate", "arm", "settings", "beat_worst", "best_test", "ref_min")):
        return ""
    mine = robust[(robust["arm"] == arm) & robust["beat_worst"].notna()]
    if mine.empty:
        return ""
    beat = int(mine["beat_worst"].sum())
    total = int(mine["settings"].sum())
    gap = (mine["best_test"] - mine["ref_min"]).max()
    places = len(mine)
    if beat == 0:
        return (
            f"No window could have changed claim 1's verdict: over {places} dataset × rate "
            f"grid{'s' if places != 1 else ''} ({total} {_ARM_NAMES.get(arm, 'settings')} "
            f"in all), not one beats Random's worst reported seed, even the best by test, "
            f"which no method could know (closest: {num(gap, 1, True)} points)."
        )
    return (
        f"{beat} of {total} {_ARM_NAMES.get(arm, 'settings')} over {places} dataset × rate "
        f"grid{'s' if places != 1 else ''} beat Random's worst reported seed on the tuning "
        "seed, so a better window choice could in principle narrow the gap."
    )


def distinct_coresets(table: pd.DataFrame) -> str:
    """How many distinct coresets each tuned arm's grid selects, per rate
    (:func:`evalib.studies.composition.distinct_coresets`)."""
    if not _has(table, ("arm", "rate", "settings", "distinct")):
        return "The grid's coresets are not in the results yet."
    dup = table[table["distinct"] < table["settings"]]
    if dup.empty:
        return (
            "Every window and pair of the grid selects a coreset of its own "
            f"({int(table['settings'].sum())} settings, as many distinct coresets)."
        )
    parts = [
        f"the {int(r['settings'])} {_ARM_NAMES.get(r['arm'], r['arm'])} at "
        f"{rate_text(r['rate'])} select {int(r['distinct'])} distinct coresets"
        for _, r in dup.sort_values(["arm", "rate"]).iterrows()
    ]
    return (
        f"Not every setting selects its own coreset: {'; '.join(parts)}. Settings that "
        "select the same coreset train the same model, so they are one point of the grid, "
        "not several."
    )


# ----------------------------------------------------------------------------- balance


def class_balance(table: pd.DataFrame, rates: Sequence[float], metric: str = CLEAN) -> str:
    """The class-balanced arms against their comparators, per rate and budget:
    class-balanced EVA − stratified Random, EVA with the published flag − Random of the
    same size and − Random at the rate (the paper's comparison, had its runs used the
    flag), with the coreset sizes.

    ``table``: labelled runs (``arm``, ``rate``, ``seed``, ``budget``, ``metric``,
    optional ``n_train``) of the balance study and Table 1's Random."""
    column = "arm" if _has(table, ("arm",)) else "method"
    if not _has(table, (column, "rate", "seed", metric)):
        return "No class-balance run is in the results yet."
    budgets = sorted(set(table["budget"]) if "budget" in table else {"epochs"},
                     key=lambda b: b != "epochs")  # fmt: skip
    pairs = (("eva_cb_tuned", "random_strat"), ("eva_flag", "random_flag"),
             ("eva_flag", "random"))  # fmt: skip
    out, flag_shown = [], False
    for rate in rates:
        for budget in budgets:
            at = _at(_budget(table, budget), "rate", rate)
            parts = []
            for a, b in pairs:
                d = _one(at, column, a, b, metric)
                if not d["n"]:
                    continue
                flag_shown |= (a, b) == ("eva_flag", "random")
                v = stats.verdict(d["diff"], d["ci95"], "better")
                size = _sizes(at, column, (a, b))
                parts.append(f"{label(a)} − {label(b)} {pm(d['diff'], d['ci95'])} points "
                             f"({seeds_text([d['n']])}{size}): 'beats' {is_word(v)}")  # fmt: skip
            where = f"At {rate_text(rate)}" + (
                "" if budget == "epochs" else f", {budget_label(budget)}"
            )
            if parts:
                out.append(f"- {where}: " + "; ".join(parts) + ".")
            elif budget == "epochs":
                out.append(f"- {where}: no class-balance run is in the results yet.")
    end = (
        "The paper does not say whether its runs used the published code's class-balance "
        "flag (default off). Had they, its EVA coresets would have held equal numbers of "
        "each class and slightly more images than its Random ones"
    )
    if flag_shown:
        end += f"; {label('eva_flag', short=True)} − {label('random')} above is that reading of the paper's EVA − Random"
    else:
        end += "; EVA with the flag has no run in these results to show what that reading gives"
    meaning = collapse_share(table, rates, metric)
    return "\n".join([*out, "", end + ".", *(["", meaning] if meaning else [])])


def collapse_share(table: pd.DataFrame, rates: Sequence[float], metric: str = CLEAN) -> str:
    """What the class-balanced arms say about EVA's loss, per rate (paper's epochs), from
    labelled runs: EVA tuned − Random beside class-balanced EVA − stratified Random, paired
    by seed (:func:`_collapse_line`). ``""`` when either comparison has no paired seed."""
    column = "arm" if _has(table, ("arm",)) else "method"
    if not _has(table, (column, "rate", "seed", metric)):
        return ""
    lines = []
    for rate in rates:
        at = _at(_budget(table, "epochs"), "rate", rate)
        whole = _one(at, column, "eva_tuned", "random", metric)
        within = _one(at, column, "eva_cb_tuned", "random_strat", metric)
        if whole["n"] and within["n"]:
            lines.append(f"- At {rate_text(rate)}: " + _collapse_line(whole, within) + ".")
    return (MEANING_HEAD + "\n".join(lines)) if lines else ""


def balance_meaning(comparisons: pd.DataFrame, order: Sequence[str] = ()) -> str:
    """:func:`collapse_share` from the claims page's comparisons (claims 1 and 1cb, clean
    protocol, paper's epochs), per dataset (in ``order``) and rate; ``""`` without both."""
    need = ("dataset", "claim", "rate", "diff", "ci95", "n_seeds")
    if not _has(comparisons, need):
        return ""
    c = comparisons.assign(claim=comparisons["claim"].astype(str))
    if "protocol" in c:
        c = c[c["protocol"] == "clean"]
    c = _budget(c, "epochs").dropna(subset=["diff"])
    lines = []
    flags = list(dict.fromkeys([*order, *c["dataset"]]))
    for flag in flags:
        for rate in sorted(set(c.loc[c["dataset"] == flag, "rate"])):
            at = _at(c[c["dataset"] == flag], "rate", rate)
            rows = {k: at[at["claim"] == k] for k in ("1", "1cb")}
            if any(r.empty for r in rows.values()):
                continue
            whole, within = ({"diff": float(r["diff"].iloc[0]), "ci95": float(r["ci95"].iloc[0]),
                              "n": int(r["n_seeds"].iloc[0])} for r in rows.values())  # fmt: skip
            lines.append(f"- **{dataset_title(flag)} at {rate_text(rate)}**: "
                         + _collapse_line(whole, within) + ".")  # fmt: skip
    return (MEANING_HEAD + "\n".join(lines)) if lines else ""


MEANING_HEAD = (
    "**What class balance says about EVA** (paper's epochs, ± 95 % t-interval over seeds):\n\n"
)


def _collapse_line(whole: dict, within: dict) -> str:
    """EVA tuned − Random beside class-balanced EVA − stratified Random (``diff``, ``ci95``
    in points), the share of the first gap that balancing the classes closes, and whether
    EVA's ranking kept within each class is better, worse or no different from random
    choice there (the verdict of the second interval)."""
    v = stats.verdict(within["diff"], within["ci95"], "better")
    closed = ""
    if whole["diff"] < 0:
        share = 1 - within["diff"] / whole["diff"]
        closed = f"; balancing the classes closes {num(100 * share, 0)} % of the first gap"
    if v == stats.HOLDS:
        means = (
            "kept within each class, EVA's ranking beats random choice: its loss is class collapse"
        )
    elif v == stats.CONTRADICTED:
        means = ("kept within each class, EVA's ranking still does worse than random choice: "
                 "class collapse is only part of why EVA loses")  # fmt: skip
    else:
        means = ("kept within each class, EVA's ranking is neither shown better nor worse "
                 "than random choice (the interval spans 0)")  # fmt: skip
    return (f"{label('eva_tuned')} − {label('random')} {pm(whole['diff'], whole['ci95'])} "
            f"points, {label('eva_cb_tuned')} − {label('random_strat')} "
            f"{pm(within['diff'], within['ci95'])}{closed}; {means}")  # fmt: skip


def _sizes(at: pd.DataFrame, column: str, arms: Sequence[str]) -> str:
    if "n_train" not in at:
        return ""
    sizes = []
    for arm in arms:
        n = at.loc[at[column] == arm, "n_train"]
        if len(n):
            sizes.append(f"{int(n.iloc[0]):,}")
    return f"; {' vs '.join(sizes)} images" if len(sizes) == len(arms) else ""


# ----------------------------------------------------------------------------- identical


def identical_arms(results: pd.DataFrame) -> str:
    """One sentence on the claim comparisons whose two arms selected identical coresets
    (``identical`` of :func:`evalib.studies.claims.evaluate`), where their difference is
    0 by construction; ``""`` when there is none."""
    if not _has(results, ("claim", "part", "rate", "identical", "n_seeds")):
        return ""
    r = results[results["identical"].fillna(0).astype(int) > 0]
    if "protocol" in r:
        r = r[r["protocol"] == r["protocol"].iloc[0]] if len(r) else r
    if r.empty:
        return ""
    key = [c for c in ("dataset", "claim", "part", "rate") if c in r]
    r = r.drop_duplicates(key)
    items = []
    for _, x in r.iterrows():
        where = f" on {dataset_title(x['dataset'])}" if "dataset" in x else ""
        items.append(f"claim {x['claim']}{where} ({x['part']} at {rate_text(x['rate'])}, "
                     f"{identical_note(x['identical'], x['n_seeds'])})")  # fmt: skip
    every = bool((r["identical"].astype(int) >= r["n_seeds"].astype(int)).all())
    return (
        f"Identical coresets: in {names(items)}, the two arms selected the same images"
        + (", so their difference is 0 by construction and says nothing about the two scores."
           if every else " on the seeds named: there their difference is 0 by construction, "
           "and the mean over seeds is partly a tie of one coreset with itself.")
    )  # fmt: skip
