"""Figures of the related-system pages: PIE, DAD segmentation, distillation
(notebooks 07–09)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt  # evalib.book.plots.style names the extra to install
import numpy as np
import pandas as pd

from evalib.book.plots.style import (
    MAX_WIDTH,
    arm_palette,
    label,
    method_color,
)
from evalib.studies import labels
from evalib.studies.labels import dataset_title

# ----------------------------------------------------------------------------- PIE (notebook 07)


def pie_pruning(table: pd.DataFrame, title: str) -> plt.Figure:
    """Left: overall, balanced and worst-class test accuracy (%) against sparsity (%);
    right: the PIE share (%) of the training and test splits. ``table``: columns
    sparsity (fraction, 0 = dense), accuracy, balanced_accuracy, worst_class_accuracy,
    pie_train, pie_test (``evalib.studies.pie_tables.pruning_table``)."""
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
    for ax in (ax1, ax2):  # under each panel's axis label, not over its lines
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.36), ncol=3,
                  frameon=False)  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout()
    fig.subplots_adjust(bottom=0.34)
    return fig


def pie_classes(per_class: pd.DataFrame, htl: np.ndarray | None, title: str) -> plt.Figure:
    """Left: per-class test accuracy (%) of the dense networks and of the pruned ones at
    the highest sparsity (the ``pruned_acc_<s>`` column of
    ``evalib.studies.pie_tables.per_class_table``); right: the distribution of the HTL scores (%
    of the training samples per score)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6))
    x = np.arange(len(per_class))
    pruned = [c for c in per_class.columns if c.startswith("pruned_acc_")]
    ax1.bar(x - 0.2, per_class["dense_acc"], 0.4, label="dense")
    for col in pruned[:1]:
        ax1.bar(x + 0.2, per_class[col], 0.4, label=f"pruned {100 * float(col[11:]):g}%")
    ax1.set_xticks(x, list(per_class["class"]), rotation=45, ha="right")
    ax1.set(ylabel="test accuracy (%)", title="per-class accuracy", ylim=(0, 105))
    ax1.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
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
    worst_class_accuracy_std (``evalib.studies.pie_tables.coreset_summary``)."""
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
    handles, names = ax1.get_legend_handles_labels()
    if handles:  # below the panels, not over the lines
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    return fig


def pie_emphasis(summary: pd.DataFrame, per_class: pd.DataFrame, title: str) -> plt.Figure:
    """Left: overall, balanced and worst-class test accuracy (%) per emphasis variant (bars:
    mean, error bars: std over seeds; ``evalib.studies.pie_tables.emphasis_summary``); right:
    per-class test accuracy (%) of each variant (``evalib.studies.pie_tables.emphasis_per_class``:
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
    lows = [summary[f"{m}_mean"] - summary[f"{m}_std"].fillna(0) for m in metrics]
    highs = [summary[f"{m}_mean"] + summary[f"{m}_std"].fillna(0) for m in metrics]
    if len(summary):  # zoom on the bars: the differences are fractions of a point
        lo, hi = float(min(x.min() for x in lows)), float(max(x.max() for x in highs))
        pad = max(0.5, 0.15 * (hi - lo))
        ax1.set_ylim(max(0.0, lo - pad), min(100.0, hi + 3 * pad))
    ax1.set(ylabel="test accuracy (%)", title="HTL emphasis (zoomed axis)")
    for v in per_class.columns:
        ax2.plot(range(len(per_class)), per_class[v], marker="o", label=v)
    ax2.set_xticks(range(len(per_class)), list(per_class.index), rotation=45, ha="right")
    ax2.set(ylabel="test accuracy (%)", title="per class")
    handles, names = ax1.get_legend_handles_labels()
    if handles:  # below the panels, clear of the bars and the tick labels
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    return fig


# ----------------------------------------------------------------------------- segmentation

#: the segmentation page's pruning rules, in the order its figures list them
SEG_METHODS = ("random", "el2n", "dad_hard", "dad_easy", "dad_ambiguous")


def _wrap(name: str, width: int = 11) -> str:
    """A class name on up to three lines of about ``width`` characters, broken at spaces
    or hyphens, never cut."""
    import textwrap

    return "\n".join(textwrap.wrap(name.replace("-", "- "), width, break_long_words=False)
                     ).replace("- ", "-")  # fmt: skip


def seg_mosaics(images, masks, patch_labels, class_names: Sequence[str], title: str,
                n: int = 4) -> plt.Figure:  # fmt: skip
    """The first ``n`` mosaics (top, titled by their patches' classes) and their pixel
    labels (bottom, one colour per class). images: uint8 [N, ch, H, W]; masks: int
    [N, H, W]; patch_labels: int [N, g·g] (arrays or tensors)."""
    images, masks = np.asarray(images), np.asarray(masks)
    c = len(class_names)
    n = min(n, len(images))
    fig, axes = plt.subplots(2, n, figsize=(min(MAX_WIDTH, 2.1 * n), 6.0), squeeze=False)
    cmap = plt.get_cmap("tab20", c)
    for j in range(n):
        img = images[j].astype(np.float32).transpose(1, 2, 0) / 255
        axes[0][j].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
        axes[1][j].imshow(masks[j], cmap=cmap, vmin=-0.5, vmax=c - 0.5)
        names = [str(class_names[k]) for k in patch_labels[j]]  # every name in full
        axes[0][j].set_title(",\n".join(", ".join(names[i : i + 2])
                                         for i in range(0, len(names), 2)), fontsize=9)  # fmt: skip
        for ax in (axes[0][j], axes[1][j]):
            ax.axis("off")
    from matplotlib.patches import Patch

    shown = sorted({int(k) for k in np.unique(masks[:n]) if 0 <= int(k) < c})
    handles = [Patch(color=cmap(k), label=str(class_names[k])) for k in shown]
    if handles:  # what each colour of the pixel labels means
        fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)),
                   fontsize=9, frameon=False, title="pixel label", title_fontsize=9)  # fmt: skip
    rows = -(-len(handles) // 4)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, min(0.3, 0.03 + 0.035 * rows) if handles else 0, 1, 1))
    return fig


def seg_scores(history: pd.DataFrame, scores: pd.DataFrame, el2n_end: int,
               title: str) -> plt.Figure:  # fmt: skip
    """Three panels of the scoring run: mean training soft Dice per epoch (history:
    ``epoch``, ``train_soft_dice``), pixel EL2N against DAD per mosaic and the histogram
    of DAD (scores: ``dad``, ``el2n``)."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(MAX_WIDTH, 3.4))
    if len(history):
        ax1.plot(history["epoch"] + 1, history["train_soft_dice"], marker="o")
    ax1.set(xlabel="epoch", ylabel="mean training soft Dice", title="training")
    ax2.scatter(scores["el2n"], scores["dad"], s=8, alpha=0.6)
    ax2.set(xlabel=f"pixel EL2N\n(epochs 0–{el2n_end - 1})", ylabel="DAD",
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
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.2))
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
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
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

    summary: rows of :func:`evalib.studies.distill.summarize` (``dataset``, ``method``, ``ipc``
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
    handles, names = axes[0].get_legend_handles_labels() if axes else ([], [])
    if handles:  # below the panels, not over a panel's lines
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 1))
    return fig


def distill_images(
    examples: Mapping[str, tuple[np.ndarray, Sequence[str]]], title: str
) -> plt.Figure:
    """One row per dataset of ``examples`` (flag -> (images [K, H, W, C] in [0, 1], class
    names), as :func:`evalib.studies.distill.example_images` gives them), one image per class."""

    n_cols = max([len(names) for _, names in examples.values()] or [1])
    n_rows = max(1, len(examples))
    cell = min(1.2, (MAX_WIDTH - 0.4) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + 0.4,
                                                      (cell + 0.55) * n_rows + 0.4),
                             squeeze=False)  # fmt: skip
    for r, (flag, (images, names)) in enumerate(examples.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(names):
                continue
            img = np.asarray(images[c])
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_title(_wrap(str(names[c])), fontsize=8)
        axes[r][0].axis("on")  # the row's dataset as the first image's y label
        axes[r][0].set(xticks=[], yticks=[])
        for side in axes[r][0].spines.values():
            side.set_visible(False)
        axes[r][0].set_ylabel(dataset_title(flag), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def distill_losses(synthetic: pd.DataFrame, title: str) -> plt.Figure:
    """The DM loss during distillation (log axis), one panel per dataset, one line per
    images-per-class budget. synthetic: rows of :func:`evalib.studies.distill.synthetic_table`
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
    handles, names = axes[0].get_legend_handles_labels() if axes else ([], [])
    if handles:  # one legend below the panels (the budgets are the same in each)
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    return fig


def distill_predictor(points: pd.DataFrame, title: str) -> plt.Figure:
    """Random-subset accuracy against distilled accuracy (left, with the diagonal; labels:
    images per class) and against the gain of distillation (right, with zero), one colour
    per dataset. points: rows of :func:`evalib.studies.distill.predictor_table`."""

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3.6))
    for i, (flag, g) in enumerate(points.groupby("dataset", sort=False)):
        ax1.scatter(g["random"], g["distilled"], label=dataset_title(flag), gid=f"points-{flag}")
        ax2.scatter(g["random"], g["gain"], label=dataset_title(flag), gid=f"gain-{flag}")
        offset = (4, 3) if i % 2 == 0 else (4, -11)  # datasets' labels on opposite sides
        for _, r in g.iterrows():
            ax1.annotate(f"{int(r['ipc'])}", (r["random"], r["distilled"]), fontsize=9,
                         xytext=offset, textcoords="offset points")  # fmt: skip
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
    handles, names = ax1.get_legend_handles_labels()
    if handles:  # below the panels, not over the points
        fig.legend(handles, names, loc="lower center", ncol=len(names), frameon=False,
                   bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1 if handles else 0, 1, 1))
    return fig
