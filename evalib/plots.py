"""Figure helpers the notebooks call. Each returns the matplotlib Figure it drew."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

try:
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator
except ModuleNotFoundError as exc:  # the core install has no plotting packages
    raise ModuleNotFoundError(
        f"evalib.plots needs {exc.name}: pip install 'evalib[plots]'", name=exc.name
    ) from None

from evalib import labels
from evalib.labels import dataset_title

#: one colour per method, used by every figure: Okabe–Ito and Tol colours, at least 25
#: CIELAB units apart (tests/test_plots.py); Random is grey and the full data black,
#: the two references every figure compares with.
METHOD_COLORS: dict[str, str] = {
    "full": "#000000",
    "random": "#7f7f7f",
    "forgetting": "#E69F00",
    "entropy": "#56B4E9",
    "el2n": "#009E73",
    "aum": "#CC79A7",
    "ccs": "#0072B2",
    "eva": "#D55E00",
    "eva_paper": "#D55E00",  # the same score as EVA under another name
    "eva_tuned": "#D55E00",  # EVA with windows tuned on validation: EVA's own colour
    "eva_published": "#FF0000",  # EVA with the published windows
    "eva_official": "#FB9A99",
    "exp_s": "#B2DF8A",
    "var_s": "#332288",
    "exp_d": "#FDBF6F",
    "var_d": "#9E2F8E",
    "cartography": "#1F9E9E",
    "tdds": "#808000",
    "dad": "#A0522D",
    "pie": "#CCBB44",  # Tol yellow: dark enough for a line on white
}
#: Names that share another method's colour on purpose (the same score).
ALIASES = {"eva_paper": "eva", "eva_tuned": "eva"}
_SPARE = ("#6699CC", "#117733", "#882255", "#BBBBBB", "#44AA99", "#661100")


def method_color(method: str) -> str:
    """The colour of ``method`` in every figure (a spare colour for unknown names,
    always the same one for the same name)."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    return _SPARE[sum(map(ord, method)) % len(_SPARE)]


def _shade(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` mixed with white (``amount`` > 0) or black (< 0)."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    target = np.ones(3) if amount > 0 else np.zeros(3)
    return tuple(float(v) for v in rgb + abs(amount) * (target - rgb))


def arm_palette(arm_methods: Sequence[tuple[str, str]]) -> dict[str, tuple[float, float, float]]:
    """Colours for figure arms (label, method) in order: an arm gets its method's colour;
    a second or third arm of the same method (e.g. another window) a lighter, then darker
    shade of it (darker first for a light colour, whose lighter shade would vanish on a
    white background), so every arm stays distinguishable."""
    from matplotlib.colors import to_rgb

    seen: dict[str, int] = {}
    out = {}
    for label_, method in arm_methods:
        k = seen.get(method, 0)
        seen[method] = k + 1
        base = method_color(method)
        steps = (0.45, -0.4, 0.7, -0.6)
        if _luminance(base) > 0.55:  # light: darker shades first, milder lighter ones
            steps = (-0.45, 0.35, -0.65, -0.25)
        out[label_] = to_rgb(base) if k == 0 else _shade(base, steps[(k - 1) % len(steps)])
    return out


def _luminance(color: str | tuple[float, float, float]) -> float:
    """Relative luminance (0 black … 1 white) of ``color``, WCAG's formula."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


#: the widest a figure is drawn, in inches: the book's text column is about 790 px wide
#: at a 1400 px window and figures are drawn at 100 dpi, so a wider figure is shrunk and
#: its text with it (tests/test_plots.py checks every helper against it)
MAX_WIDTH = 8.4


def setup_style() -> None:
    """The notebooks' display style: a quiet, print-friendly seaborn style for figures,
    and every DataFrame shown through :func:`evalib.tables.to_html` (no row numbers, no
    all-NaN columns, integers as integers, p-values below 0.001 as "< 0.001", wide
    tables transposed or split to fit the page) when running under IPython."""
    from evalib import tables

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams["figure.dpi"] = 100
    tables.install_display()


def label(method: str) -> str:
    """A method's name on a figure (its short name, :func:`evalib.labels.label`)."""
    return labels.label(method, short=True)


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
    ax_acc.legend(loc="lower right")
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
        xlabel="epoch (0-indexed)", ylabel="error score S_t (0 … √2)", ylim=(0, 1.45), title=title
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def accuracy_vs_rate(
    summary: pd.DataFrame, title: str, paper: pd.DataFrame | None = None, full: float | None = None
) -> plt.Figure:
    """Mean accuracy (%) vs selection rate per method, error bars = std over seeds.

    summary: columns method, rate, mean, std (from experiments.summarize). paper: the
    paper's numbers (method, rate, mean) drawn as faint dashed lines for comparison.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
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
    ax.legend(ncol=2, fontsize="small", loc="lower right")
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
    the sample with the highest window mean among those with low variance."""
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
    low_var = order[: max(1, len(order) // 4)]
    early = next(iter(windows.values()))
    steady = low_var[np.argmax(s[early[0] : early[1], low_var].mean(axis=0))]
    if int(steady) not in picks.values():
        picks["high error, low variance"] = int(steady)
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
    ax.set(xlabel="epoch (0-indexed)", ylabel="error score S_t (0 … √2)", ylim=(-0.03, 1.47))
    ax.set_title("error over training (shaded: windows; bars: window mean ± SD)", pad=18)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize="small",
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
    ax_v.set(xlabel="window variance V_W", title="what EVA adds up")
    ax_m.set(xlabel="window mean E_W", title="what EXP adds up", xlim=(0, 1.45))
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
            ax.tick_params(labelsize=7)
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
    ``protocol``, ``diff``). Bars are the mean over seeds, error bars a 95 % bootstrap
    interval over seeds (none with one seed).
    """
    import seaborn as sns

    data = per_seed.assign(rate_pct=(100 * per_seed["rate"].astype(float)).map("{:g}".format))
    g = sns.catplot(data=data, kind="bar", x="rate_pct", y="diff", hue="comparison",
                    col="protocol", col_order=list(protocols), errorbar=("ci", 95), capsize=0.1,
                    height=3.4, aspect=min(1.2, MAX_WIDTH / (3.4 * len(protocols))),
                    palette="colorblind")  # fmt: skip
    for ax in g.axes.flat:
        ax.axhline(0, color="k", lw=0.8, gid="zero-line")
        ax.set(xlabel="selection rate (% of training set)", ylabel=ylabel)
    g.set_titles("{col_name} protocol")
    n = per_seed["comparison"].nunique()
    sns.move_legend(g, "upper center", bbox_to_anchor=(0.5, 0.02), ncol=max(1, n), title=None,
                    frameon=False)  # fmt: skip
    w, h = g.figure.get_size_inches()  # seaborn widened it for a legend now placed below
    g.figure.set_size_inches(min(w, MAX_WIDTH), h)
    g.figure.suptitle(title)
    g.figure.tight_layout()
    return g.figure


def missing_convention(missing: pd.DataFrame, title: str) -> plt.Figure:
    """Two panels from a :func:`evalib.ablations.missing_effect` table (one recording):
    left, the Jaccard overlap of the coresets chosen with unseen epochs masked and
    zero-filled, per rate (1 = the convention changes nothing); right, the share (%) of
    samples with an unseen epoch in the whole training set and in each coreset."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(MAX_WIDTH, 3.4), gridspec_kw={"width_ratios": [1, 1.6]}
    )
    ticks = [f"{100 * r:g}" for r in missing["rate"]]
    x = np.arange(len(missing))
    bars = left.bar(x, missing["jaccard"], color=method_color("eva"))
    left.bar_label(bars, fmt="%.3f", fontsize="x-small", padding=1)
    left.set_xticks(x, ticks)
    left.set(xlabel="selection rate (%)", ylabel="Jaccard, masked vs zero-filled",
             ylim=(0, 1.12), title="same coreset?")  # fmt: skip
    sets = {
        "affected_all": "whole training set",
        "affected_mask": 'coreset, missing="mask"',
        "affected_zero": 'coreset, missing="zero" (official)',
    }
    width = 0.8 / len(sets)
    for i, (col, name) in enumerate(sets.items()):
        shown = right.bar(x + (i - 1) * width, 100 * missing[col], width, label=name)
        right.bar_label(shown, fmt="%.2g", fontsize="xx-small", padding=1)
    right.set_xticks(x, ticks)
    right.set(xlabel="selection rate (%)", ylabel="samples with an unseen epoch (%)",
              title="who gets selected")  # fmt: skip
    right.legend(fontsize="x-small", loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- PIE (notebook 07)


def pie_pruning(table: pd.DataFrame, title: str) -> plt.Figure:
    """Left: overall, balanced and worst-class test accuracy (%) against sparsity (%);
    right: the PIE share (%) of the training and test splits. ``table``: columns
    sparsity (fraction, 0 = dense), accuracy, balanced_accuracy, worst_class_accuracy,
    pie_train, pie_test (``evalib.pie_tables.pruning_table``)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.4))
    x = 100 * table["sparsity"].astype(float)
    for col, name in (("accuracy", "overall"), ("balanced_accuracy", "balanced"),
                      ("worst_class_accuracy", "worst class")):  # fmt: skip
        ax1.plot(x, table[col], marker="o", label=name)
    ax1.set(xlabel="sparsity (% of weights removed)", ylabel="test accuracy (%)",
            title="accuracy of the pruned networks")  # fmt: skip
    ax2.plot(x, table["pie_train"], marker="o", label="train")
    ax2.plot(x, table["pie_test"], marker="s", label="test")
    ax2.set(xlabel="sparsity (% of weights removed)", ylabel="PIEs (% of the split)",
            title="pruning-identified exemplars")  # fmt: skip
    for ax in (ax1, ax2):
        ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pie_classes(per_class: pd.DataFrame, htl: np.ndarray | None, title: str) -> plt.Figure:
    """Left: per-class test accuracy (%) of the dense networks and of the pruned ones at
    the highest sparsity (the ``pruned_acc_<s>`` column of
    ``evalib.pie_tables.per_class_table``); right: the distribution of the HTL scores (%
    of the training samples per score)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6))
    x = np.arange(len(per_class))
    pruned = [c for c in per_class.columns if c.startswith("pruned_acc_")]
    ax1.bar(x - 0.2, per_class["dense_acc"], 0.4, label="dense")
    for col in pruned[:1]:
        ax1.bar(x + 0.2, per_class[col], 0.4, label=f"pruned {100 * float(col[11:]):g}%")
    ax1.set_xticks(x, list(per_class["class"]), rotation=45, ha="right")
    ax1.set(ylabel="test accuracy (%)", title="per-class accuracy")
    ax1.legend(fontsize="small")
    if htl is not None and len(htl):
        values, freq = np.unique(np.asarray(htl), return_counts=True)
        ax2.bar([f"{v:.2f}" for v in values], 100 * freq / freq.sum())
    ax2.set(xlabel="HTL score (fraction of sparsities at which it is a PIE)",
            ylabel="training samples (%)", title="HTL distribution")  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pie_coresets(summary: pd.DataFrame, title: str) -> plt.Figure:
    """Overall (left) and worst-class (right) test accuracy (%) against selection rate,
    one line per coreset method, error bars one std over seeds. ``summary``: columns
    method, rate, accuracy_mean, accuracy_std, worst_class_accuracy_mean,
    worst_class_accuracy_std (``evalib.pie_tables.coreset_summary``)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6), sharey=True)
    for method, g in summary.groupby("method"):
        g = g.sort_values("rate")
        name = label(str(method))
        for ax, col in ((ax1, "accuracy"), (ax2, "worst_class_accuracy")):
            ax.errorbar(100 * g["rate"], g[f"{col}_mean"], yerr=g[f"{col}_std"].fillna(0),
                        marker="o", capsize=3, label=name, color=method_color(str(method)))  # fmt: skip
    rates = sorted(set(summary["rate"]))
    for ax, what in ((ax1, "overall"), (ax2, "worst class")):
        ax.set(xlabel="selection rate (%, log scale)", ylabel="test accuracy (%)",
               title=f"{what} accuracy")  # fmt: skip
        if rates:
            ax.set_xscale("log")
            ax.set_xticks([100 * r for r in rates], [f"{100 * r:g}" for r in rates])
            ax.minorticks_off()
    if len(summary):
        ax1.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pie_emphasis(summary: pd.DataFrame, per_class: pd.DataFrame, title: str) -> plt.Figure:
    """Left: overall, balanced and worst-class test accuracy (%) per emphasis variant (bars:
    mean, error bars: std over seeds; ``evalib.pie_tables.emphasis_summary``); right:
    per-class test accuracy (%) of each variant (``evalib.pie_tables.emphasis_per_class``:
    classes as rows, one column per variant)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.8),
                                   gridspec_kw={"width_ratios": [1, 1.6]})  # fmt: skip
    metrics = ("accuracy", "balanced_accuracy", "worst_class_accuracy")
    order = list(summary["variant"])
    xx = np.arange(len(metrics))
    wbar = 0.8 / max(1, len(order))
    for i, (_, row) in enumerate(summary.iterrows()):
        ax1.bar(xx + i * wbar, [row[f"{m}_mean"] for m in metrics], wbar,
                yerr=[0 if np.isnan(row[f"{m}_std"]) else row[f"{m}_std"] for m in metrics],
                capsize=2, label=row["variant"])  # fmt: skip
    ax1.set_xticks(xx + wbar * (len(order) - 1) / 2, ["overall", "balanced", "worst class"])
    ax1.set(ylabel="test accuracy (%)", title="emphasis on HTL samples")
    for v in per_class.columns:
        ax2.plot(range(len(per_class)), per_class[v], marker="o", label=v)
    ax2.set_xticks(range(len(per_class)), list(per_class.index), rotation=45, ha="right")
    ax2.set(ylabel="test accuracy (%)", title="per class")
    if order:
        ax1.legend(fontsize="small", loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- segmentation

#: the segmentation page's pruning rules, in the order its figures list them
SEG_METHODS = ("random", "el2n", "dad_hard", "dad_easy", "dad_ambiguous")


def seg_mosaics(images, masks, patch_labels, class_names: Sequence[str], title: str,
                n: int = 4) -> plt.Figure:  # fmt: skip
    """The first ``n`` mosaics (top, titled by their patches' classes) and their pixel
    labels (bottom, one colour per class). images: uint8 [N, ch, H, W]; masks: int
    [N, H, W]; patch_labels: int [N, g·g] (arrays or tensors)."""
    images, masks = np.asarray(images), np.asarray(masks)
    c = len(class_names)
    n = min(n, len(images))
    fig, axes = plt.subplots(2, n, figsize=(2.5 * n, 5.2), squeeze=False)
    cmap = plt.get_cmap("tab20", c)
    for j in range(n):
        img = images[j].astype(np.float32).transpose(1, 2, 0) / 255
        axes[0][j].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
        axes[1][j].imshow(masks[j], cmap=cmap, vmin=-0.5, vmax=c - 0.5)
        axes[0][j].set_title(", ".join(class_names[k][:8] for k in patch_labels[j]), fontsize=7)
        for ax in (axes[0][j], axes[1][j]):
            ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def seg_scores(history: pd.DataFrame, scores: pd.DataFrame, el2n_end: int,
               title: str) -> plt.Figure:  # fmt: skip
    """Three panels of the scoring run: mean training soft Dice per epoch (history:
    ``epoch``, ``train_soft_dice``), pixel EL2N against DAD per mosaic and the histogram
    of DAD (scores: ``dad``, ``el2n``)."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
    if len(history):
        ax1.plot(history["epoch"] + 1, history["train_soft_dice"], marker="o")
    ax1.set(xlabel="epoch", ylabel="mean training soft Dice", title="training")
    ax2.scatter(scores["el2n"], scores["dad"], s=8, alpha=0.6)
    ax2.set(xlabel=f"pixel EL2N (epochs 0–{el2n_end - 1})", ylabel="DAD",
            title="per-mosaic scores")  # fmt: skip
    if len(scores):
        ax3.hist(scores["dad"], bins=30, alpha=0.7, label="DAD")
    ax3.set(xlabel="DAD", ylabel="mosaics", title="DAD distribution")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def seg_pruning(summary: pd.DataFrame, title: str, full: float | None = None,
                methods: Sequence[str] = SEG_METHODS) -> plt.Figure:  # fmt: skip
    """Mean test Dice against the kept fraction (%), one line per pruning rule with error
    bars of one std over seeds (summary: ``method``, ``rate``, ``mean``, ``std``); the
    DAD rules in shades of DAD's colour; a dotted line at the full-data Dice."""
    fig, ax = plt.subplots(figsize=(8, 4.4))
    colors = arm_palette([(m, m.split("_")[0]) for m in methods])
    for method in methods:
        g = summary[summary["method"] == method].sort_values("rate")
        name = labels.label(method, short=True, segmentation=True)
        if len(g):
            ax.errorbar(100 * g["rate"], g["mean"], yerr=g["std"].fillna(0), marker="o",
                        capsize=3, label=name, color=colors[method])  # fmt: skip
    if full is not None:
        ax.axhline(full, color="k", ls=":", lw=1, label="full training set")
    ax.set(xlabel="kept fraction of training mosaics (%)", ylabel="mean test Dice", title=title)
    rates = sorted(set(summary["rate"]))
    ax.set_xticks([100 * r for r in rates], [f"{100 * r:g}" for r in rates])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- distillation


def _panels(n: int, height: float, cols: int = 2) -> tuple[plt.Figure, list]:
    """A figure of ``n`` panels, at most ``cols`` per row, as wide as the text column."""
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(min(MAX_WIDTH, 4.2 * cols), height * rows),
                             squeeze=False)  # fmt: skip
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def distill_accuracy(summary: pd.DataFrame, title: str,
                     methods: Sequence[str] = ("distilled", "random", "eva"),
                     datasets: Sequence[str] | None = None) -> plt.Figure:  # fmt: skip
    """Test accuracy (%) against images per class (log axis), one panel per dataset, one
    line per method with ± std error bars; the full training set as a dotted line.

    summary: rows of :func:`evalib.distill.summarize` (``dataset``, ``method``, ``ipc``
    NaN for the full set, ``mean``, ``std``); ``datasets``: the panels' order (default:
    as in ``summary``)."""

    flags = list(datasets or dict.fromkeys(summary["dataset"]))
    fig, axes = _panels(len(flags), 3.2)
    markers = dict(zip(methods, "os^vDP", strict=False))
    for ax, flag in zip(axes, flags, strict=True):
        s = summary[summary["dataset"] == flag]
        for method in methods:
            g = s[s["method"] == method].sort_values("ipc")
            if len(g):
                ax.errorbar(g["ipc"], g["mean"], yerr=g["std"].fillna(0), capsize=3,
                            marker=markers.get(method, "o"), label=label(method),
                            color=method_color(method), gid=f"method-{method}")  # fmt: skip
        full = s[s["method"] == "full"]["mean"]
        if len(full):
            ax.axhline(float(full.iloc[0]), color="k", ls=":", lw=1, label="full set", gid="full")
        ipcs = sorted(int(i) for i in s["ipc"].dropna().unique())
        ax.set(xscale="log", xlabel="images per class (log)", ylabel="test accuracy (%)",
               title=dataset_title(flag))  # fmt: skip
        ax.set_xticks(ipcs, [str(i) for i in ipcs])
        ax.minorticks_off()
    if axes and axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def distill_images(
    examples: Mapping[str, tuple[np.ndarray, Sequence[str]]], title: str
) -> plt.Figure:
    """One row per dataset of ``examples`` (flag -> (images [K, H, W, C] in [0, 1], class
    names), as :func:`evalib.distill.example_images` gives them), one image per class."""

    n_cols = max([len(names) for _, names in examples.values()] or [1])
    n_rows = max(1, len(examples))
    cell = min(1.2, MAX_WIDTH / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols, (cell + 0.3) * n_rows + 0.4),
                             squeeze=False)  # fmt: skip
    for r, (flag, (images, names)) in enumerate(examples.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(names):
                continue
            img = np.asarray(images[c])
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_title(str(names[c])[:12], fontsize=7)
        axes[r][0].text(-0.1, 0.5, dataset_title(flag), transform=axes[r][0].transAxes,
                        rotation=90, ha="right", va="center", fontsize=7)  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def distill_losses(synthetic: pd.DataFrame, title: str) -> plt.Figure:
    """The DM loss during distillation (log axis), one panel per dataset, one line per
    images-per-class budget. synthetic: rows of :func:`evalib.distill.synthetic_table`
    (``dataset``, ``ipc``, ``loss_curve`` = [[iteration, mean loss], …])."""

    flags = list(dict.fromkeys(synthetic["dataset"]))
    fig, axes = _panels(len(flags), 2.8)
    for ax, flag in zip(axes, flags, strict=True):
        for _, row in synthetic[synthetic["dataset"] == flag].sort_values("ipc").iterrows():
            curve = np.asarray(row["loss_curve"], dtype=float).reshape(-1, 2)
            ax.plot(
                curve[:, 0],
                curve[:, 1],
                label=f"IPC {int(row['ipc'])}",
                gid=f"ipc-{int(row['ipc'])}",
            )
        ax.set(xlabel="DM iteration", ylabel="DM loss (block mean)", title=dataset_title(flag),
               yscale="log")  # fmt: skip
        ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def distill_predictor(points: pd.DataFrame, title: str) -> plt.Figure:
    """Random-subset accuracy against distilled accuracy (left, with the diagonal; labels:
    images per class) and against the gain of distillation (right, with zero), one colour
    per dataset. points: rows of :func:`evalib.distill.predictor_table`."""

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6))
    for flag, g in points.groupby("dataset", sort=False):
        ax1.scatter(g["random"], g["distilled"], label=dataset_title(flag), gid=f"points-{flag}")
        ax2.scatter(g["random"], g["gain"], label=dataset_title(flag), gid=f"gain-{flag}")
        for _, r in g.iterrows():
            ax1.annotate(f"{int(r['ipc'])}", (r["random"], r["distilled"]), fontsize=7,
                         xytext=(3, 3), textcoords="offset points")  # fmt: skip
    both = points[["random", "distilled"]].to_numpy(dtype=float)
    if np.isfinite(both).any():
        lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
        ax1.plot([lo, hi], [lo, hi], color="0.6", ls="--", lw=1, label="distilled = random",
                 gid="diagonal")  # fmt: skip
    ax1.set(xlabel="random real subset accuracy (%)", ylabel="distilled accuracy (%)",
            title="labels: images per class")  # fmt: skip
    ax2.axhline(0, color="0.6", ls="--", lw=1, gid="zero-line")
    ax2.set(xlabel="random real subset accuracy (%)", ylabel="distilled − random (points)",
            title="gain of distillation")  # fmt: skip
    if ax1.get_legend_handles_labels()[0]:
        ax1.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
