"""Figures that put two profiles side by side: the surrogates behind them and the claims
they judge (the `cpu` profile's 40-epoch surrogate against `cpu200`'s 200 epochs)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from evalib.studies.labels import budget_label, profile_title

COLOURS = {"cpu": "tab:blue", "cpu200": "tab:purple", "paper": "tab:green", "smoke": "0.5"}


def _colour(profile: str) -> str:
    return COLOURS.get(profile, "0.3")


def surrogate_and_windows(curves: pd.DataFrame, shares: pd.DataFrame, title: str):
    """Two stacked panels on one axis, the fraction of the surrogate's training done: its
    training accuracy per epoch (``curves``: profile, frac, train_acc) and the share of the
    summed error variance that each window of its grid holds (``shares``: profile,
    start_frac, end_frac, share), drawn per tenth of the training so that grids of different
    window lengths compare, one colour per profile."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for profile, c in curves.groupby("profile", sort=False):
        top.plot(c["frac"], 100 * c["train_acc"], color=_colour(profile),
                 label=profile_title(profile))  # fmt: skip
    top.set(ylabel="training accuracy (%)", ylim=(0, 102))
    top.set_title(title, loc="left")
    for profile, s in shares.groupby("profile", sort=False):
        width = s["end_frac"] - s["start_frac"]
        density = 100 * s["share"] / (10 * width)  # % of the variance per tenth of training
        bottom.bar(s["start_frac"], density, width=width, align="edge",
                   color=_colour(profile), alpha=0.45, edgecolor=_colour(profile),
                   label=profile_title(profile))  # fmt: skip
    bottom.set(xlabel="fraction of the surrogate's training", xlim=(0, 1),
               ylabel="error variance per tenth\nof training (% of the sum)")  # fmt: skip
    handles, names = top.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def profile_differences(table: pd.DataFrame, profiles: Sequence[str], title: str):
    """A − B per claim part and rate under each profile (a
    :func:`evalib.studies.profiles.side_by_side` table of one dataset), as horizontal bars
    with their 95 % t-intervals, one panel per budget (the paper's epochs first), one bar
    colour per profile (n seeds in the legend)."""
    budgets = sorted(set(table["budget"]), key=lambda b: b != "epochs")
    keys = table[["claim", "part", "rate"]].drop_duplicates().reset_index(drop=True)
    several = keys.groupby(["claim", "rate"])["part"].transform("size") > 1
    names = [f"claim {r.claim}" + (f" ({r.part})" if many else "") + f" · {100 * r.rate:g} %"
             for r, many in zip(keys.itertuples(), several, strict=True)]  # fmt: skip
    height = 0.8 / max(len(profiles), 1)
    fig, axes = plt.subplots(1, max(len(budgets), 1), sharex=True, sharey=True, squeeze=False,
                             figsize=(7, 0.28 * len(keys) * max(len(profiles), 1) + 2.0),
                             layout="constrained")  # fmt: skip
    for ax, budget in zip(axes[0], budgets, strict=False):
        part = keys.merge(table[table["budget"] == budget], on=["claim", "part", "rate"],
                          how="left")  # fmt: skip
        for k, p in enumerate(profiles):
            ys = [i + (k - (len(profiles) - 1) / 2) * height for i in range(len(part))]
            n = sorted({int(v) for v in table[f"n {p}"].dropna()})
            ax.barh(ys, part[f"diff {p}"], height=height, xerr=part[f"ci95 {p}"].fillna(0),
                    color=_colour(p), capsize=2,
                    label=f"{profile_title(p)} (n = {', '.join(map(str, n))} seeds)")  # fmt: skip
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(budget_label(budget))
        ax.set_xlabel("A − B, accuracy points")
    axes[0][0].set_yticks(range(len(keys)), names)
    axes[0][0].invert_yaxis()
    fig.suptitle(title + " (clean protocol; bars: 95 % t-interval over seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    return fig


def class_shares(summary: pd.DataFrame, profiles: Sequence[str], title: str) -> plt.Figure:
    """The class shares of the tuned EVA coresets under each profile beside Random's
    (``summary``: :func:`evalib.studies.profiles.shares_by_profile` of one dataset), one
    colour per profile, per class and rate."""
    from evalib.book.plots.coresets import coreset_class_shares

    mine = {f"eva_tuned · {p}": p for p in profiles}
    return coreset_class_shares(
        summary, title, ("random", *mine),
        names={a: f"EVA (tuned), {profile_title(p)}" for a, p in mine.items()},
        colours={a: _colour(p) for a, p in mine.items()},
    )  # fmt: skip
