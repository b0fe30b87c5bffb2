"""Figures of the pages on dynamics, Table 1, the ablations, windows and networks
(notebooks 01–06)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt  # evalib.book.plots.style names the extra to install
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from evalib.book import tables
from evalib.book.plots.style import (
    MAX_WIDTH,
    arm_palette,
    label,
    method_color,
)
from evalib.studies import labels


def learning_curves(history: Sequence[dict] | pd.DataFrame, title: str) -> plt.Figure:
    """Training loss and train/val accuracy (%) per epoch from a run's history."""
    h = pd.DataFrame(history)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.4))
    ax_loss.plot(h["epoch"] + 1, h["train_loss"], marker="o", ms=3)
    ax_loss.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="loss")
    ax_acc.plot(h["epoch"] + 1, 100 * h["train_acc"], marker="o", ms=3, label="train (train mode)")
    if "val_acc" in h:
        v = h.dropna(subset=["val_acc"])
        ax_acc.plot(v["epoch"] + 1, 100 * v["val_acc"], marker="s", ms=3, label="validation")
    if "test_acc" in h:
        t = h.dropna(subset=["test_acc"])
        ax_acc.plot(t["epoch"] + 1, 100 * t["test_acc"], "k*", ms=10, label="test (final)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_acc.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def score_trajectories(
    error_norms: np.ndarray, positions: Sequence[int], names: Sequence[str], title: str,
    windows: Sequence[tuple[int, int]] = (),
) -> plt.Figure:  # fmt: skip
    """Error score S_t = ‖p_t − y‖₂ over epochs for a few samples (the paper's Fig. 1).

    error_norms: [T, N]; positions: samples to draw; windows: shaded [a, b) epoch ranges.
    """
    fig, ax = plt.subplots(figsize=(8, 3.8))
    epochs = np.arange(error_norms.shape[0])
    for a, b in windows:
        ax.axvspan(a - 0.5, b - 0.5, color="0.85", zorder=0)
    for pos, name in zip(positions, names, strict=True):
        ax.plot(epochs, error_norms[:, pos], marker="o", ms=3, label=name)
    ax.set(
        xlabel="epoch (0-indexed)", ylabel="error score $S_t$ (0 … √2)", ylim=(0, 1.45), title=title
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def accuracy_vs_rate(
    summary: pd.DataFrame, title: str, paper: pd.DataFrame | None = None, full: float | None = None
) -> plt.Figure:
    """Mean accuracy (%) vs selection rate per method, error bars = std over seeds.

    summary: columns method, rate, mean, std (from evalib.studies.stats.groupby_summary). paper: the
    paper's numbers (method, rate, mean) drawn as faint dashed lines for comparison.
    """
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.5))
    methods = [m for m in labels.ordered(summary["method"]) if m != "full"]
    palette = {m: method_color(m) for m in methods}
    for m in methods:
        s = summary[summary["method"] == m].sort_values("rate")
        ax.errorbar(100 * s["rate"], s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=3,
                    label=label(m), color=palette[m])  # fmt: skip
        if paper is not None:
            q = paper[(paper["method"] == m) & paper["rate"].isin(s["rate"])].sort_values("rate")
            if len(q):
                ax.plot(100 * q["rate"], q["mean"], ls="--", alpha=0.45, color=palette[m])
    if full is not None:
        ax.axhline(full, color="k", lw=1, ls=":", label="full data (ours)")
    ax.set(xscale="log", xlabel="selection rate (% of training set, log scale)",
           ylabel="accuracy (%)", title=title)  # fmt: skip
    rates = sorted(set(summary["rate"]) - {1.0})
    ax.set_xticks([100 * r for r in rates], [f"{100 * r:g}" for r in rates])
    ax.minorticks_off()
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def ablation_bars(
    long: pd.DataFrame,
    title: str,
    hue: str = "arm",
    order: Sequence[str] | None = None,
    full: Mapping[str, float] | None = None,
    random: pd.DataFrame | None = None,
    protocols: Sequence[str] | None = None,
) -> plt.Figure:
    """Accuracy (%) per selection rate, one bar per arm, one panel per protocol.

    long: one row per run and protocol (``ablations.long_by_protocol``), columns
    ``protocol_label``, ``rate_label``, ``accuracy``, ``method`` and ``hue``. Bars are
    means over seeds, error bars one standard deviation. full: protocol_label → the full
    data's accuracy, a dotted line. random: rows of Random runs in the same long format;
    their mean per protocol and rate is drawn as a black dash across each rate's bars,
    the reference every coreset method must beat.
    """
    order = list(order) if order is not None else list(dict.fromkeys(long[hue]))
    methods = long.drop_duplicates(hue).set_index(hue)["method"]
    palette = arm_palette([(a, str(methods.get(a, a))) for a in order])
    cols = list(protocols) if protocols is not None else list(dict.fromkeys(long["protocol_label"]))
    rates = list(long["rate_label"].cat.categories if hasattr(long["rate_label"], "cat")
                 else dict.fromkeys(long["rate_label"]))  # fmt: skip
    fig, axes = plt.subplots(1, len(cols), figsize=(min(MAX_WIDTH, 4.2 * len(cols)), 4.2),
                             sharey=True, squeeze=False)  # fmt: skip
    width = 0.8 / max(1, len(order))
    for ax, col in zip(axes[0], cols, strict=True):
        part = long[long["protocol_label"] == col]
        for j, arm in enumerate(order):
            g = part[part[hue] == arm].groupby("rate_label", observed=True)["accuracy"]
            mean, std = g.mean().reindex(rates), g.std().reindex(rates).fillna(0)
            x = np.arange(len(rates)) - 0.4 + width * (j + 0.5)
            ax.bar(x, mean.to_numpy(), width, yerr=std.to_numpy(), capsize=2,
                   color=palette[arm], label=arm, edgecolor="white", linewidth=0.5)  # fmt: skip
        if random is not None and len(random):
            ref = (random[random["protocol_label"] == col]
                   .groupby("rate_label", observed=True)["accuracy"].mean().reindex(rates))  # fmt: skip
            for i, y in enumerate(ref.to_numpy()):
                if np.isfinite(y):
                    ax.hlines(y, i - 0.45, i + 0.45, color="k", lw=2, gid="random-reference",
                              label="Random (mean)" if i == 0 else None)  # fmt: skip
        if full is not None and col in full:
            ax.axhline(full[col], color="k", ls=":", lw=1, label="full data")
        ax.set_xticks(np.arange(len(rates)), rates)
        ax.set(xlabel="selection rate (% of training set)", title=col)
    axes[0][0].set_ylabel("accuracy (%)")
    handles, labels_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="lower center", ncol=min(len(labels_), 5),
               frameon=False, bbox_to_anchor=(0.5, -0.02))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1 + 0.04 * (len(labels_) > 5), 1, 1))
    return fig


def representative_samples(
    error_norms: np.ndarray, windows: Mapping[str, tuple[int, int]]
) -> dict[str, int]:
    """A few samples that show what window statistics do, by position in [T, N]:
    the highest and the median summed window variance (EVA's score), a sample learned
    early (lowest mean error over training), one never learned (highest mean error) and
    the steadiest hard sample (the lowest summed window variance among the tenth of
    samples with the highest mean error in the first window)."""
    s = np.asarray(error_norms, dtype=np.float64)
    var = sum(s[a:b].var(axis=0) for a, b in windows.values())
    mean_all = s.mean(axis=0)
    order = np.argsort(var, kind="stable")
    picks = {
        "highest EVA score": int(order[-1]),
        "median EVA score": int(order[len(order) // 2]),
        "learned early": int(np.argmin(mean_all)),
        "never learned": int(np.argmax(mean_all)),
    }
    early = next(iter(windows.values()))
    early_mean = s[early[0] : early[1]].mean(axis=0)
    hard = np.flatnonzero(early_mean >= np.quantile(early_mean, 0.9))
    hard = hard[~np.isin(hard, list(picks.values()))]
    if len(hard):
        picks["high error, low variance"] = int(hard[np.argmin(var[hard])])
    return picks


def trajectories_with_window_stats(
    error_norms: np.ndarray,
    samples: Mapping[str, int],
    windows: Mapping[str, tuple[int, int]],
    title: str,
) -> plt.Figure:
    """Top: the error score S_t of each chosen sample over epochs, windows shaded, and
    inside each window a bar at the window mean ± one window standard deviation. Below:
    each sample's window variances (what EVA adds up, left) and window means (what EXP
    uses, right), one bar per window.

    error_norms: [T, N]; samples: name → position; windows: name → [a, b) epochs.
    """
    s = np.asarray(error_norms, dtype=np.float64)
    names = list(samples)
    colors = dict(zip(names, sns.color_palette("dark", len(names)), strict=True))
    fig = plt.figure(figsize=(MAX_WIDTH, 7.2), layout="constrained")
    grid = fig.add_gridspec(2, 2, height_ratios=(1.35, 1), width_ratios=(1.25, 1))
    ax = fig.add_subplot(grid[0, :])
    ax_v, ax_m = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    epochs = np.arange(s.shape[0])
    for a, b in windows.values():
        ax.axvspan(a - 0.5, b - 0.5, color="0.9", zorder=0)
    for name in names:
        pos = samples[name]
        ax.plot(epochs, s[:, pos], marker="o", ms=3, lw=1.4, color=colors[name], label=name)
        for a, b in windows.values():
            m, sd = s[a:b, pos].mean(), s[a:b, pos].std()
            ax.errorbar((a + b - 1) / 2, m, yerr=sd, color=colors[name], capsize=4, lw=2.4,
                        alpha=0.8)  # fmt: skip
    for wname, (a, b) in windows.items():
        ax.text((a + b - 1) / 2, 1.01, f"{wname} [{a}, {b})", ha="center", va="bottom",
                fontsize="small", color="0.3", transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set(xlabel="epoch (0-indexed)", ylabel="error score $S_t$ (0 … √2)", ylim=(-0.03, 1.47))
    ax.set_title("error over training (shaded: windows; bars: window mean ± SD)", pad=18)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize="small",
              frameon=False)  # fmt: skip
    y = np.arange(len(names))
    h = 0.8 / max(1, len(windows))
    for k, (wname, (a, b)) in enumerate(windows.items()):
        v = [s[a:b, samples[n]].var() for n in names]
        m = [s[a:b, samples[n]].mean() for n in names]
        shade = "0.25" if k == 0 else "0.6"
        ax_v.barh(y - 0.4 + h * (k + 0.5), v, h, color=shade, label=wname)
        ax_m.barh(y - 0.4 + h * (k + 0.5), m, h, color=shade, label=wname)
    for a_ in (ax_v, ax_m):
        a_.set_yticks(y, names if a_ is ax_v else [""] * len(names))
        a_.invert_yaxis()
        for tick, name in zip(a_.get_yticklabels(), names, strict=True):
            tick.set_color(colors[name])
    ax_v.set(xlabel="window variance $V_W$", title="what EVA adds up")
    ax_m.set(xlabel="window mean $E_W$", title="what EXP adds up", xlim=(0, 1.45))
    ax_v.legend(title="window", fontsize="small", loc="lower right")
    fig.suptitle(title)
    return fig


def grid_heatmaps(
    panels: Sequence[Sequence[tuple[str, pd.DataFrame]]],
    title: str,
    value_label: str = "accuracy (%)",
    xlabel: str = "late window (epochs)",
    ylabel: str = "early window (epochs)",
    max_annotated: int = 12,
) -> plt.Figure:
    """Heatmaps of window-grid matrices (rows of panels, each ``(title, matrix)``), as
    wide as the text column and with every cell's value written in it when a matrix has
    at most ``max_annotated`` rows, in a type size that stays legible (8 pt up to 8 rows,
    7 pt beyond). All panels share one colour scale."""
    rows = [list(r) for r in panels]
    n_cols = max(len(r) for r in rows)
    n = max(m.shape[0] for r in rows for _, m in r)
    values = np.concatenate([m.to_numpy(dtype=float).ravel() for r in rows for _, m in r])
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    side = (MAX_WIDTH - 0.9) / n_cols
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(MAX_WIDTH, 0.5 + (side + 0.5) * len(rows)),
                             squeeze=False, layout="constrained")  # fmt: skip
    annot = n <= max_annotated
    size = 8 if n <= 8 else 7
    mappable = None
    for row_axes, row in zip(axes, rows, strict=True):
        for j, (ax, (name, mat)) in enumerate(zip(row_axes, row, strict=False)):
            sns.heatmap(mat, ax=ax, annot=annot, fmt=".1f", cmap="viridis", square=True,
                        vmin=vmin, vmax=vmax, cbar=False, annot_kws={"size": size},
                        linewidths=0.5, linecolor="white")  # fmt: skip
            mappable = ax.collections[0]
            ax.set(title=name, xlabel=xlabel, ylabel=ylabel if j == 0 else "")
            ax.tick_params(labelsize=8)
            ax.tick_params(axis="y", rotation=0)
            ax.grid(False)
        for ax in row_axes[len(row) :]:
            ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=axes, label=value_label, shrink=0.8)
    fig.suptitle(title)
    return fig


def paired_bars(per_seed: pd.DataFrame, title: str, ylabel: str,
                protocols: Sequence[str] = ("paper", "clean")) -> plt.Figure:  # fmt: skip
    """Seed-paired differences A − B (accuracy points) per selection rate, one bar per
    comparison, one panel per protocol, with a zero line.

    per_seed: rows of ``ablations.paired_rows`` (columns ``comparison``, ``rate``,
    ``protocol``, ``diff``). Bars are the mean over seeds; error bars the 95 % t-interval
    over seeds (:func:`evalib.studies.stats.t_interval`), the interval the verdicts use;
    none with one seed. Each panel's title gives the number of seeds.
    """
    from evalib.studies.stats import t_interval

    comparisons = list(dict.fromkeys(per_seed["comparison"]))
    rates = sorted(per_seed["rate"].astype(float).unique())
    colors = dict(zip(comparisons, sns.color_palette("colorblind", len(comparisons)),
                      strict=True))  # fmt: skip
    fig, axes = plt.subplots(1, len(protocols), figsize=(MAX_WIDTH, 3.6), sharey=True,
                             squeeze=False)  # fmt: skip
    width = 0.8 / max(1, len(comparisons))
    for ax, protocol in zip(axes[0], protocols, strict=True):
        part = per_seed[per_seed["protocol"] == protocol]
        seeds = set()
        for j, comp in enumerate(comparisons):
            stats_ = [t_interval(part[(part["comparison"] == comp)
                                      & (part["rate"].astype(float) == r)]["diff"].tolist())
                      for r in rates]  # fmt: skip
            seeds |= {n for *_, n in stats_ if n}
            mean = np.array([m for m, *_ in stats_], dtype=float)
            half = np.array([h for _, _, h, _ in stats_], dtype=float)
            x = np.arange(len(rates)) - 0.4 + width * (j + 0.5)
            ax.bar(x, mean, width, yerr=np.nan_to_num(half), capsize=3, color=colors[comp],
                   label=comp, edgecolor="white", linewidth=0.5)  # fmt: skip
        ax.axhline(0, color="k", lw=0.8, gid="zero-line")
        ax.set_xticks(np.arange(len(rates)), [f"{100 * r:g}" for r in rates])
        n_text = ", ".join(str(n) for n in sorted(seeds)) or "0"
        ax.set(xlabel="selection rate (% of training set)",
               title=f"{protocol} protocol (n = {n_text} seeds)")  # fmt: skip
    axes[0][0].set_ylabel(ylabel)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=max(1, len(names)), frameon=False,
               bbox_to_anchor=(0.5, -0.01))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def missing_convention(missing: pd.DataFrame, title: str) -> plt.Figure:
    """Two panels from a :func:`evalib.studies.overlaps.missing_effect` table (one recording):
    left, the Jaccard overlap of the coresets chosen with unseen epochs masked and
    zero-filled, per rate (1 = the convention changes nothing); right, the share (%) of
    samples with an unseen epoch in the whole training set and in each coreset, each bar
    labelled with the decimals the page's table prints."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(MAX_WIDTH, 4.2), gridspec_kw={"width_ratios": [1, 1.6]}
    )
    ticks = [f"{100 * r:g}" for r in missing["rate"]]
    x = np.arange(len(missing))
    bars = left.bar(x, missing["jaccard"], color=method_color("eva"))
    left.bar_label(bars, fmt="%.3f", fontsize="small", padding=1)
    left.set_xticks(x, ticks)
    left.set(xlabel="selection rate (%)", ylabel="Jaccard index",
             ylim=(0, 1.12), title="masked vs zero-filled")  # fmt: skip
    sets = {
        "affected_all": "whole training set",
        "affected_mask": "coreset, unseen epochs masked",
        "affected_zero": "coreset, zero-filled (official code)",
    }
    width = 0.8 / len(sets)
    pct = 100 * missing[list(sets)].astype(float)
    digits = tables.float_digits(pct.to_numpy().ravel())  # as the page's table prints them
    for i, (col, name) in enumerate(sets.items()):
        shown = right.bar(x + (i - 1) * width, pct[col], width, label=name)
        right.bar_label(shown, labels=[f"{v:.{digits}f}" for v in pct[col]], fontsize="small",
                        padding=2, rotation=90)  # fmt: skip
    right.set_xticks(x, ticks)
    right.set(xlabel="selection rate (%)", ylabel="samples with an unseen epoch (%)",
              title="who gets selected")  # fmt: skip
    top = float(np.nanmax(100 * missing[list(sets)].to_numpy(float), initial=0.0))
    right.set_ylim(0, 1.6 * top if top > 0 else 1.0)  # room for the rotated values
    handles, names = right.get_legend_handles_labels()
    fig.legend(handles, names, fontsize="small", loc="lower center", ncol=len(names),
               frameon=False)  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def overlap_heatmaps(matrices: Mapping[float, pd.DataFrame], title: str) -> list[plt.Figure]:
    """One page-wide heatmap per rate of the Jaccard overlap between the coresets of
    every window and pair (``evalib.studies.overlaps.overlap_matrix``: arms × arms), in
    8-point type (legible at the page's width): every arm named on both axes while the
    labels fit, else every k-th; cells annotated up to 8 arms."""
    figures = []
    size = 8.0
    for rate, mat in matrices.items():
        n = len(mat)
        side = min(MAX_WIDTH, 2.5 + 0.17 * n)
        fig, ax = plt.subplots(figsize=(MAX_WIDTH, side))
        # a label needs about 1.3 × its type size of axis; the heatmap gets ~80 % of the side
        step = max(1, int(np.ceil(n * 1.3 * size / 72 / (0.8 * (side - 1.5)))))
        sns.heatmap(mat, ax=ax, vmin=0, vmax=1, cmap="mako", square=True, annot=n <= 8,
                    fmt=".2f", xticklabels=step, yticklabels=step,
                    cbar_kws={"label": "Jaccard index of the two coresets", "shrink": 0.8})  # fmt: skip
        shown = "window or pair (epochs)" + ("" if step == 1 else f", every {step}th named")
        ax.set(xlabel=shown, ylabel=shown)
        # over the whole figure, not the square axes, whose width the colour bar shares
        fig.suptitle(f"{title} · rate {labels.fmt_percent(rate)}")
        ax.tick_params(labelsize=size if n > 12 else "small")
        ax.tick_params(axis="x", rotation=90)
        ax.tick_params(axis="y", rotation=0)
        ax.grid(False)
        fig.tight_layout()
        figures.append(fig)
    return figures


# ----------------------------------------------------------------------------- why (02, 05, 10)

#: Smallest font (points) of the figures below: at 100 dpi and the page's MAX_WIDTH a point
#: is about 1.4 px, so text stays above 8 px on a 1400 px page.
SMALL = 9


def _class_panels(data: pd.DataFrame, value: str, lo: str, hi: str, arms: Sequence[str],
                  title: str, xlabel: str, reference: str | None = None,
                  panel: str = "rate", names: Mapping[str, str] | None = None,
                  colours: Mapping[str, str] | None = None) -> plt.Figure:  # fmt: skip
    """One panel per ``panel`` value (selection rates), classes down the y axis (full
    names, in label order), one marker per arm at ``value`` with a bar from ``lo`` to
    ``hi`` (the range over seeds), arms side by side within a class; ``reference``: a
    column drawn as a black tick per class (e.g. the training split's share). Without
    rows of ``arms``, a figure that says so."""
    if data.empty or not set(arms) & set(data["arm"]):
        fig, ax = plt.subplots(figsize=(MAX_WIDTH, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, "no result of these arms yet", ha="center", va="center",
                fontsize=SMALL + 2)  # fmt: skip
        fig.suptitle(title, fontsize=SMALL + 3)
        return fig
    keys = sorted(data[panel].unique())
    classes = data.drop_duplicates("class").sort_values("class")["class_name"].tolist()
    arms = [a for a in arms if a in set(data["arm"])]
    fig, axes = plt.subplots(1, max(1, len(keys)), sharey=True, squeeze=False,
                             figsize=(MAX_WIDTH, 0.36 * len(classes) + 1.9))  # fmt: skip
    y = np.arange(len(classes))
    step = 0.7 / max(1, len(arms))
    for ax, key in zip(axes[0], keys, strict=False):
        d = data[data[panel] == key]
        for i, arm in enumerate(arms):
            a = d[d["arm"] == arm].set_index("class_name").reindex(classes)
            off = y + (i - (len(arms) - 1) / 2) * step
            ax.errorbar(a[value], off, xerr=[a[value] - a[lo], a[hi] - a[value]], fmt="o",
                        ms=5, capsize=2, lw=1.2,
                        color=(colours or {}).get(arm) or method_color(arm),
                        label=(names or {}).get(arm) or label(arm))  # fmt: skip
        if reference is not None:
            r = d.drop_duplicates("class_name").set_index("class_name").reindex(classes)
            ax.scatter(r[reference], y, marker="|", s=260, color="k", zorder=3,
                       label="training split" if reference == "train_share" else reference)  # fmt: skip
        ax.set_title(f"{100 * float(key):g} %" if panel == "rate" else str(key), fontsize=SMALL + 2)
        ax.set_xlabel(xlabel, fontsize=SMALL + 1)
        ax.tick_params(labelsize=SMALL + 1)
        ax.set_xlim(left=0)
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(y, classes)
    axes[0][0].invert_yaxis()
    handles, names_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names_, loc="lower center", ncol=max(1, min(4, len(handles))), frameon=False,
               fontsize=SMALL + 1)  # fmt: skip
    fig.suptitle(title, fontsize=SMALL + 3)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(handles) > 4), 1, 1))
    return fig


def coreset_class_shares(summary: pd.DataFrame, title: str,
                         arms: Sequence[str] = ("random", "eva_tuned", "eva_published"),
                         names: Mapping[str, str] | None = None,
                         colours: Mapping[str, str] | None = None) -> plt.Figure:  # fmt: skip
    """What each arm's coresets hold: per class (y, full names) and selection rate (one
    panel each), the share of the coreset in % (marker: mean over seeds; bar: min–max),
    with the training split's share as a black tick.

    summary: :func:`evalib.studies.composition.share_summary` of one dataset (shares are
    fractions); ``names`` and ``colours``: an arm's legend entry and colour where not the
    method's own (e.g. one arm under two profiles)."""
    d = summary.copy()
    for c in ("share", "share_min", "share_max", "train_share"):
        d[c] = 100 * d[c].astype(float)
    return _class_panels(d, "share", "share_min", "share_max", arms, title,
                         "share of the coreset (%)", reference="train_share", names=names,
                         colours=colours)  # fmt: skip


def class_accuracy(summary: pd.DataFrame, title: str,
                   arms: Sequence[str] = ("random", "eva_tuned"), budget: str = "epochs"
                   ) -> plt.Figure:  # fmt: skip
    """Per-class test accuracy of the models trained on each arm's coresets: per class (y)
    and selection rate (one panel each), accuracy in % (marker: mean over seeds; bar:
    min–max), under one training ``budget``.

    summary: :func:`evalib.studies.composition.accuracy_summary` of one dataset."""
    d = summary[summary["budget"] == budget] if "budget" in summary else summary
    return _class_panels(d, "acc", "acc_min", "acc_max", arms, title,
                         "test accuracy of the class (%)")  # fmt: skip


def grid_against_random(tuning: pd.DataFrame, robust: pd.DataFrame, title: str,
                        metric: str = "clean_test_acc") -> plt.Figure:  # fmt: skip
    """Every window and pair of the tuning grid against the reference's reported range: one
    panel per rate, one row per tuned arm, a dot per setting at its test accuracy on the
    tuning seed, a ring on the setting validation chose, and the reference's (Random's)
    min–max over the reported seeds as a grey band.

    tuning: :func:`evalib.studies.grids.tuning_table`; robust:
    :func:`evalib.studies.composition.grid_robustness` of the same table."""
    if tuning is None or tuning.empty:
        return _class_panels(pd.DataFrame(columns=["arm"]), "", "", "", (), title, "")
    rates = sorted(tuning["rate"].unique())
    arms = [a for a in ("exp_s", "exp_d", "var_s", "eva", "eva_cb") if a in set(tuning["arm"])]
    names_ = {a: label("var_d" if a == "eva" else a) + (" = EVA" if a == "eva" else "")
              for a in arms}  # fmt: skip
    fig, axes = plt.subplots(1, max(1, len(rates)), sharey=True, squeeze=False,
                             figsize=(MAX_WIDTH, 0.55 * len(arms) + 1.9))  # fmt: skip
    rng = np.random.default_rng(0)  # vertical jitter only, so that dots do not hide
    for ax, rate in zip(axes[0], rates, strict=False):
        t = tuning[tuning["rate"] == rate]
        r = robust[np.isclose(robust["rate"].astype(float), float(rate))]
        if "reference" in r:  # the band is Random's, not another arm's reference
            r = r[r["reference"] == "random"]
        if len(r) and np.isfinite(r["ref_min"].astype(float)).any():
            lo, hi = float(r["ref_min"].min()), float(r["ref_max"].max())
            ax.axvspan(lo, hi, color="0.85", zorder=0, label="Random, reported seeds (min–max)")
        for i, arm in enumerate(arms):
            a = t[t["arm"] == arm]
            x = 100 * a[metric].astype(float)
            ax.scatter(x, i + rng.uniform(-0.15, 0.15, len(x)), s=16,
                       color=method_color("var_d" if arm == "eva" else arm), alpha=0.8)  # fmt: skip
            if len(a):
                c = a.loc[a["final_val_acc"].idxmax()]
                ax.scatter([100 * float(c[metric])], [i], s=110, facecolors="none",
                           edgecolors="k", lw=1.3,
                           label="chosen on validation" if i == 0 else None)  # fmt: skip
        ax.set_title(f"{100 * float(rate):g} %", fontsize=SMALL + 2)
        ax.set_xlabel("test accuracy on the tuning seed (%)", fontsize=SMALL + 1)
        ax.tick_params(labelsize=SMALL + 1)
    axes[0][0].set_yticks(range(len(arms)), [names_[a] for a in arms])
    handles, labels_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="lower center", ncol=2, frameon=False, fontsize=SMALL + 1)
    fig.suptitle(title, fontsize=SMALL + 3)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
