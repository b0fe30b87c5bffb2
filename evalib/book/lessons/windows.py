"""Conclusions of the pages on dual windows, the window grid and other networks (04–06)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evalib.book.lessons.text import (
    CLEAN,
    PAPER_EVA,
    _acc,
    _at,
    _budget,
    _count,
    _differences,
    _finite,
    _has,
    _mean,
    _one,
    _paired,
    _reading,
    is_word,
    num,
    percent,
    pm,
    rate_text,
    seeds_text,
)
from evalib.studies import stats
from evalib.studies.labels import label, model_title
from evalib.studies.stats import CONTRADICTED, HOLDS, MARGIN

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
    :func:`evalib.studies.overlaps.window_variance_share`; ``missing``: from
    :func:`evalib.studies.overlaps.missing_effect`, with a ``recording`` column; ``rates``: the
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
                f"Trained on their coresets ({seeds_text(d['n'])}), the official code's EVA "
                f"minus the paper's, {label(paper_arm)}, is {'; '.join(parts)}."
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


def _tuning_test(grid: pd.DataFrame | None, windows: object, rate: float) -> float:
    """Clean test accuracy (%) of EVA's ``windows`` at ``rate`` on the tuning seed, from
    the page's grid summary (EVA is the dual-window variance, ``var_d``), else NaN."""
    if not _has(grid, ("method", "windows", "rate", "protocol", "mean")):
        return math.nan
    hit = grid[grid["method"].isin(("eva", "var_d")) & (grid["windows"] == windows)
               & (grid["protocol"] == "clean") & np.isclose(grid["rate"].astype(float), rate)]  # fmt: skip
    return float(hit["mean"].iloc[0]) if len(hit) else math.nan


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
            tuned_test = _tuning_test(grid, r["chosen"], float(r["rate"]))
            if _finite(tuned_test):
                split = float(r["val (tuning seed)"]) - tuned_test
                seeds = tuned_test - float(r["test (fresh seeds)"])
                text += (
                    f"Of that, {num(split, 1, True)} points is validation reading higher than "
                    f"test on the tuning run itself ({num(tuned_test)} % test on {seed}) and "
                    f"{num(seeds, 1, True)} points is {seed} against the reported seeds, each "
                    "with its own surrogate and training. "
                )
        text += (
            f"Over the {len(o)} arm × rate choices with fresh runs, the optimism runs from "
            f"{num(o['optimism'].min(), 1, True)} to {num(o['optimism'].max(), 1, True)} "
            f"points (mean {num(o['optimism'].mean(), 1, True)}): the validation split "
            "reading differently from the test split, and the tuning seed's windows "
            "carrying over to other seeds' surrogates, not the choice alone."
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
            n_single = int((gr["method"] == "var_s").sum())
            text = (
                f"at {rate_text(rate)}, the {_count(n_single, 'VAR-S window')} and "
                f"{_count(len(gr) - n_single, 'EVA pair')} reach "
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
        head = f"- {model_title(model)}" + (" (the surrogate's own network)" if own else "")
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
        n_hold = sum(v == HOLDS for v in verdicts)
        out += [
            "",
            f"Over every other network and rate, claim 6 {is_word(stats.combine(verdicts))}"
            f" (of {_count(len(verdicts), 'comparison')}: {n_hold} "
            f"{'holds' if n_hold == 1 else 'hold'}, "
            f"{sum(v == CONTRADICTED for v in verdicts)} contradicted).",
        ]
    ccs = g[g["comparison"] == "EVA − CCS"]
    if len(ccs):
        worst = ccs.loc[ccs["diff"].idxmin()]
        best = ccs.loc[ccs["diff"].idxmax()]
        out.append(
            f"Against CCS, EVA − CCS runs from {pm(worst['diff'], worst['ci95'])} "
            f"({model_title(worst['model_label'])}, {rate_text(worst['rate'])}) to "
            f"{pm(best['diff'], best['ci95'])} ({model_title(best['model_label'])}, "
            f"{rate_text(best['rate'])}) ({seeds_text(ccs['count'])})."
        )
    return "\n".join(out)
