"""Conclusions of the pages on the related systems: PIE, distillation, DAD (07–09)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evalib.book.lessons.text import (
    CLEAN,
    _finite,
    _has,
    _paired,
    is_word,
    names,
    num,
    percent,
    pm,
    rate_text,
    related_lines,
    seeds_text,
    word,
)
from evalib.studies import stats
from evalib.studies.labels import dataset_title, label, ordered
from evalib.studies.stats import CONTRADICTED, HOLDS, INCONCLUSIVE, MARGIN, UNTESTED

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
    as a fraction); ``verdict_rows``: the page's :func:`evalib.studies.pie_tables.verdicts`;
    ``pruned``: the dense/pruned table (``sparsity``, ``accuracy``,
    ``worst_class_accuracy``, ``pie_test`` in %)."""
    out = []
    if _has(core, ("method", "rate", "seed", metric)) and "random" in set(core["method"]):
        methods = [m for m in ordered(core["method"]) if m != "random"]
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
        methods = [m for m in ordered(t["method"]) if m not in ("random", "full")]
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
        out += [
            "",
            "**The page's claims** (each budget pooled over the datasets, so a verdict can "
            "differ from the per-dataset lines above):",
            "",
            *rel,
        ]
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
        methods = [m for m in ordered(runs["method"]) if m != "random"]
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
        methods = [m for m in ordered(classification["method"]) if m != "random"]
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
