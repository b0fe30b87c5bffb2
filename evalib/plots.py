"""Figure helpers the notebooks call. Each returns the matplotlib Figure it drew."""

from __future__ import annotations

from collections.abc import Sequence

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

from evalib.paper import METHOD_LABELS, METHOD_ORDER


def setup_style() -> None:
    """A quiet, print-friendly seaborn style used by every notebook."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams["figure.dpi"] = 100


def label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def learning_curves(history: Sequence[dict] | pd.DataFrame, title: str) -> plt.Figure:
    """Training loss and train/val accuracy (%) per epoch from a run's history."""
    h = pd.DataFrame(history)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
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
    methods = [m for m in METHOD_ORDER if m in set(summary["method"])]
    methods += sorted(set(summary["method"]) - set(methods) - {"full"})
    palette = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
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
