# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Dataset distillation against coresets at the same images per class
#
# Li et al. ("Dataset Distillation in Medical Imaging: A Feasibility Study") condense
# MedMNIST datasets into a few synthetic images per class and report that **the accuracy
# of a small random real subset predicts how well distillation will work**. A coreset
# is the natural competitor of a distilled set: both hand a network a few images per
# class, one synthetic, one real.
#
# Here every dataset is distilled with **Distribution Matching** (DM; Zhao & Bilen,
# WACV 2023): the synthetic images of each class are optimised so that, under a
# randomly initialised ConvNet drawn afresh at every iteration, their mean embedding
# matches that of real images of the class. At every budget of images per class (IPC)
# three image sets are compared with one and the same evaluation trainer (a fresh
# ConvNet, fixed SGD steps, test split):
#
# * **distilled**: the DM synthetic images;
# * **random**: random real images of each class (a new draw per evaluation seed);
# * **EVA**: the real images of each class with the highest EVA score (paper form,
#   official windows scaled to the profile, dynamics of the profile's surrogate).
#
# A network trained on the whole training split with the same trainer (more steps) is
# the reference. The last section tests the predictor claim across datasets × budgets.
#
# This notebook runs over several datasets (`datasets`); the `dataset` parameter only
# names the results folder its tables go to.

# %% tags=["remove-cell"]
# Where evalib is missing (this notebook opened in Colab or Binder), install it: from the
# checkout this notebook sits in, else from the repository the book was built from.
# Nothing happens where evalib is installed.
import importlib.util
import subprocess
import sys
from pathlib import Path

EVALIB_REPOSITORY = "{repository_url}"  # written by evalib.reproduce from _config.yml
if importlib.util.find_spec("evalib") is None:
    checkout = Path.cwd().parent
    if (checkout / "pyproject.toml").exists():
        source = str(checkout)
    elif EVALIB_REPOSITORY.startswith("http"):
        source = f"git+{EVALIB_REPOSITORY}"
    else:
        raise ModuleNotFoundError("evalib is not installed: pip install it from its repository")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)

# %% tags=["parameters"]
from typing import Optional  # papermill reads the types: --help-notebook

profile: str = "smoke"  # smoke | cpu | paper
dataset: str = "organamnist"
data_root: Optional[str] = None  # folder with <flag>.npz; None: $EVALIB_DATA_ROOT or ~/.medmnist
results_dir: Optional[str] = None  # None: $EVALIB_RESULTS_DIR, else the checkout's results/
scratch_dir: Optional[str] = None  # dynamics and checkpoints; None: ~/.cache/evalib
seeds: Optional[list[int]] = None  # None: the profile's; -y "seeds: [0, 1]"
rates: Optional[list[float]] = None  # None: the profile's; -y "rates: [0.05, 0.1]"
executor: str = "serial"  # serial | process | ray
workers: int = 2
ray_address: Optional[str] = None  # with executor "ray", None starts Ray here; "auto"; "host:6379"
device: Optional[str] = None  # None: CUDA, else Apple MPS, else CPU; or "cpu", "cuda:1", "mps"
datasets: Optional[list[str]] = None  # None: four MedMNIST sets; -y "datasets: [bloodmnist]"
ipcs: Optional[list[int]] = None  # images per class; None: the profile's; -y "ipcs: [1, 10]"

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from evalib import ablations as ab
from evalib import claims, distill, plots
from evalib import experiments as ex
from evalib.scores import compute_scores

plots.setup_style()
pd.options.display.float_format = "{:.2f}".format
S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device,
                      extra={"datasets": datasets, "ipcs": ipcs})  # fmt: skip
P = S.profile
cfg = P.distill
DATASETS = tuple(datasets or cfg.datasets)
IPCS = tuple(int(i) for i in (ipcs or cfg.ipcs))
display(
    Markdown(
        f"**Profile `{P.name}`** — {P.description}. Distillation settings: {cfg.description}. "
        f"Datasets {[ab.dataset_title(d) for d in DATASETS]}, images per class {list(IPCS)}; "
        f"EVA from the surrogate `{ab.model_label(P.model.name, P.model.width)}` "
        f"({P.epochs} epochs), windows {ab.fmt_pair(**P.eva_windows())}."
    )
)


def title(what: str, flag: str | None = None) -> str:
    head = ab.dataset_title(flag) if flag else " · ".join(ab.dataset_title(d) for d in DATASETS)
    return f"{head} · {P.name} profile · {what}"


# %% [markdown]
# ## Settings of every profile
# The notebook uses the row of its profile. `paper` is DM's published setting and needs
# a GPU (20 000 iterations with 128-channel networks); `cpu` scales it down so that the
# four datasets finish on a 2-core CPU, `smoke` only checks that everything runs.

# %%
settings = pd.DataFrame([{"profile": name, **{k: v for k, v in dataclasses.asdict(s).items()
                                             if k not in ("description", "datasets")}}
                         for name, s in ((n, p.distill) for n, p in ex.PROFILES.items())]).set_index("profile")  # fmt: skip
settings["width"] = settings["width"].map("{:g}".format)
display(settings)

# %% [markdown]
# ## Distil, select, evaluate
# For each dataset: its training split at this profile, the surrogate's dynamics for
# EVA (cached and shared with the other notebooks), DM at every budget (synthetic sets
# cached in the scratch folder), and the evaluations (cached as JSON in the results
# folder). Where a class has fewer images than the budget, every method gets all of
# them (k_c = min(IPC, n_c)).

# %%
tables, sets, sizes = [], {}, []
for flag in DATASETS:
    ds, train, ids, _, test = ex.load_data(P.data_spec(flag), S.data_root)
    dyn = ex.run_surrogate(ab.surrogate_config(P, flag), S.cache, S.data_root, device=S.device)
    if not np.array_equal(np.asarray(dyn.sample_ids), ids):
        raise RuntimeError(f"{flag}: the surrogate's dynamics cover other samples")
    eva = compute_scores("eva", dyn, **P.eva_windows())
    table, dm_sets = distill.run_comparison(S.cache, flag, train, test, ds.info.n_classes, cfg,
                                            eva, IPCS, device=S.device)  # fmt: skip
    tables.append(table)
    sets[flag] = (dm_sets, list(ds.info.class_names))
    smallest = int(np.bincount(train.labels.numpy()).min())
    sizes.append({"dataset": flag, "classes": ds.info.n_classes, "train": len(train),
                  "test": len(test), "smallest_class": smallest})  # fmt: skip
results = pd.concat(tables, ignore_index=True)
results.to_csv(S.out_dir() / "distill_runs.csv", index=False)
display(pd.DataFrame(sizes))
dm_seconds = {
    (f, i): s.meta.get("seconds", np.nan) for f, (d, _) in sets.items() for i, s in d.items()
}
display(
    Markdown(
        f"{len(results)} evaluation networks; DM took "
        f"{np.nansum(list(dm_seconds.values())) / 60:.1f} minutes in total when computed, "
        f"the evaluations {results['seconds'].sum() / 60:.1f} minutes."
    )
)

# %% [markdown]
# ## Accuracy at each budget
# Test accuracy (%), mean ± std over the evaluation networks; `full` is the whole
# training split with the same trainer (IPC empty).

# %%
summary = distill.summarize(results)
summary.to_csv(S.out_dir() / "distill_accuracy.csv", index=False)
display(summary.pivot_table(index=["dataset", "ipc"], columns="method", values="mean"))

# %%
fig, axes = plt.subplots(1, len(DATASETS), figsize=(4 * len(DATASETS), 3.6), squeeze=False)
for ax, flag in zip(axes[0], DATASETS, strict=True):
    s = summary[summary["dataset"] == flag]
    for method, marker in (("distilled", "o"), ("random", "s"), ("eva", "^")):
        g = s[s["method"] == method].sort_values("ipc")
        ax.errorbar(g["ipc"], g["mean"], yerr=g["std"].fillna(0), marker=marker, capsize=3,
                    label=plots.label(method), color=plots.method_color(method))  # fmt: skip
    full = s[s["method"] == "full"]["mean"]
    if len(full):
        ax.axhline(float(full.iloc[0]), color="k", ls=":", lw=1, label="full set")
    ax.set(xscale="log", xlabel="images per class (log)", ylabel="test accuracy (%)",
           title=ab.dataset_title(flag))  # fmt: skip
    ax.set_xticks(list(IPCS), [str(i) for i in IPCS])
    ax.minorticks_off()
axes[0][0].legend(fontsize="small")
fig.suptitle(title("distilled vs random vs EVA at equal images per class"))
fig.tight_layout()

# %% [markdown]
# ## What the synthetic images look like
# One distilled image per class at the smallest budget (it started as a random real
# image of that class), and the DM loss during distillation (a fresh random network at
# every iteration, so the curve is noisy; a moving average is drawn).

# %%
ipc_show = min(IPCS)
n_cols = max(len(names) for _, names in sets.values())
fig, axes = plt.subplots(len(DATASETS), n_cols, figsize=(1.2 * n_cols, 1.4 * len(DATASETS)),
                         squeeze=False)  # fmt: skip
for r, flag in enumerate(DATASETS):
    dm_sets, names = sets[flag]
    syn = dm_sets[ipc_show]
    for c in range(n_cols):
        ax = axes[r][c]
        ax.axis("off")
        if c >= len(names):
            continue
        img = syn.images[syn.labels == c][0].clamp(-1, 1).add(1).div(2).permute(1, 2, 0).numpy()
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(names[c][:12], fontsize=7)
fig.suptitle(title(f"DM synthetic images, {ipc_show} per class"))
fig.tight_layout()

# %%
fig, axes = plt.subplots(1, len(DATASETS), figsize=(4 * len(DATASETS), 3), squeeze=False)
for ax, flag in zip(axes[0], DATASETS, strict=True):
    for ipc_, s in sets[flag][0].items():
        w = max(1, len(s.losses) // 20)
        smooth = np.convolve(s.losses, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(len(smooth)) + w - 1, smooth, label=f"IPC {ipc_}")
    ax.set(xlabel="DM iteration", ylabel="DM loss (moving average)", title=ab.dataset_title(flag),
           yscale="log")  # fmt: skip
    ax.legend(fontsize="small")
fig.suptitle(title("distribution-matching loss"))
fig.tight_layout()

# %% [markdown]
# ## Does a small random real subset predict distillation success?
# One point per dataset × budget: the random-subset accuracy against the distilled
# accuracy, against the gain of distillation over random, and (relative to the full-set
# reference) relative random against relative distilled accuracy. Pearson and Spearman
# correlations with two-sided p-values; with few points, read the p-values before the
# coefficients. Much of a raw accuracy–accuracy correlation comes from datasets differing
# in difficulty; the gain row asks the harder question of whether random accuracy tells
# where distillation *adds* something.

# %%
points = distill.predictor_table(summary)
points.to_csv(S.out_dir() / "distill_predictor_points.csv", index=False)
corr = distill.predictor_correlation(points)
corr.to_csv(S.out_dir() / "distill_predictor_correlation.csv", index=False)
display(points)
display(corr)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
for flag, g in points.groupby("dataset"):
    ax1.scatter(g["random"], g["distilled"], label=ab.dataset_title(flag))
    ax2.scatter(g["random"], g["gain"], label=ab.dataset_title(flag))
    for _, r in g.iterrows():
        ax1.annotate(f"{int(r['ipc'])}", (r["random"], r["distilled"]), fontsize=7,
                     xytext=(3, 3), textcoords="offset points")  # fmt: skip
lo = float(np.nanmin(points[["random", "distilled"]].to_numpy()))
hi = float(np.nanmax(points[["random", "distilled"]].to_numpy()))
ax1.plot([lo, hi], [lo, hi], color="0.6", ls="--", lw=1, label="distilled = random")
ax1.set(xlabel="random real subset accuracy (%)", ylabel="distilled accuracy (%)",
        title="labels: images per class")  # fmt: skip
ax2.axhline(0, color="0.6", ls="--", lw=1)
ax2.set(xlabel="random real subset accuracy (%)", ylabel="distilled − random (points)",
        title="gain of distillation")  # fmt: skip
ax1.legend(fontsize="small")
fig.suptitle(title("random-subset accuracy as a predictor"))
fig.tight_layout()

# %% [markdown]
# ## Compute
# CPU time of the runs behind this page as they were computed (cached runs keep their
# original time), also written to the results folder for the compute table of the
# claims page.

# %%
compute = ex.write_compute(S.out_dir() / "distill_compute.csv", "08_distillation", {
    "distribution matching": (len(dm_seconds), np.nansum(list(dm_seconds.values()))),
    "evaluation networks": (len(results), results["seconds"].sum()),
})  # fmt: skip
display(compute)

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.claims); the table is written to `distill_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.

# %%
verdict_rows = distill.verdicts(results, corr)
verdict_table = pd.DataFrame(verdict_rows).drop(columns="parts")
verdict_table.to_csv(S.out_dir() / "distill_verdicts.csv", index=False)
display(Markdown(claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")))

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib import lessons

display(Markdown(lessons.distillation(results, verdict_rows)))
