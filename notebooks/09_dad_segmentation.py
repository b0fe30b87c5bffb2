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
# # DAD on a segmentation task: do gradient-norm scores fail for dense labels?
#
# He et al. ("Data-Centric Diet") prune segmentation training sets with **Dynamic
# Average Dice** (DAD): each training image's Dice between prediction and target,
# recorded during training and averaged over a window of epochs (zero entries ignored).
# They argue that scores built on the gradient norm of one label per image (GraNd,
# EL2N) fail when every pixel carries a label. For single-label classification the
# soft Dice of a softmax vector against a one-hot label is just the true-class
# probability, so DAD becomes a windowed confidence (evalib's `dad` score); the claim
# about dense labels needs a dense task.
#
# The task built here from real MedMNIST images: each sample is a grid of 28 × 28
# patches of the dataset (a 2 × 2 grid gives 56 × 56 images), and every pixel is
# labelled with the class of its patch. A tiny U-Net is trained on the mosaics; every
# epoch records each training mosaic's soft Dice (softmax against one-hot, mean over the
# classes present) and an EL2N-style gradient-norm score (‖softmax − one-hot‖₂ averaged
# over pixels). The training set is then pruned at several rates by DAD (keep the
# hardest, the easiest, or the ambiguous middle of the ranking), by EL2N (keep the
# highest, as EL2N does) and at random; a fresh U-Net is trained on each subset and
# scored by its mean Dice on held-out test mosaics.

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

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from evalib import ablations as ab
from evalib import claims, plots
from evalib import experiments as ex
from evalib import segmentation as seg
from evalib.data import load

plots.setup_style()
pd.options.display.float_format = "{:.3f}".format
S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device)  # fmt: skip
P = S.profile
cfg = P.segmentation
RATES = tuple(S.rates) if rates else cfg.rates  # kept fractions
SEEDS = tuple(S.seeds) if seeds else cfg.seeds
ds = load(S.dataset, S.data_root)
names = list(ds.info.class_names)
train = seg.make_mosaics(ds.train, cfg.n_train, cfg.grid, seed=0, num_classes=ds.info.n_classes)
test = seg.make_mosaics(ds.test, cfg.n_test, cfg.grid, seed=1, num_classes=ds.info.n_classes)
display(
    Markdown(
        f"**Profile `{P.name}`** — segmentation settings: {cfg.description}. Patches from "
        f"**{ab.dataset_title(S.dataset)}** ({ds.info.n_classes} classes): {len(train)} training "
        f"mosaics from the training split, {len(test)} test mosaics from the test split, "
        f"{cfg.grid}×{cfg.grid} patches each ({train.images.shape[-1]}×{train.images.shape[-1]} "
        f"pixels). Kept fractions {[f'{r:.0%}' for r in RATES]}, retrain seeds {list(SEEDS)}; "
        f"DAD over epochs {ab.fmt_window(cfg.dad_window or (0, cfg.epochs))}, EL2N over "
        f"epochs {ab.fmt_window((0, cfg.el2n_end))}."
    )
)


def title(what: str) -> str:
    return f"{ab.dataset_title(S.dataset)} mosaics · {P.name} profile · {what}"


# %%
cmap = plt.get_cmap("tab20", ds.info.n_classes)
fig, axes = plt.subplots(2, 4, figsize=(10, 5.2))
for j in range(4):
    img = train.images[j].float().div(255).permute(1, 2, 0).numpy()
    axes[0][j].imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray")
    axes[1][j].imshow(train.masks[j].numpy(), cmap=cmap, vmin=-0.5, vmax=ds.info.n_classes - 0.5)
    axes[0][j].set_title(", ".join(names[c][:8] for c in train.patch_labels[j]), fontsize=7)
    for ax in (axes[0][j], axes[1][j]):
        ax.axis("off")
fig.suptitle(title("training mosaics (top) and their pixel labels (bottom)"))
fig.tight_layout()

# %% [markdown]
# ## The scoring run
# One U-Net (seed 0) is trained on all training mosaics; its per-epoch soft Dice and
# pixel EL2N of every mosaic are the dynamics the scores are computed from. Its test
# Dice is the full-data reference. (Cached: arrays in the scratch folder, the row in
# `<results>/segmentation/`.)

# %%
dice, el2n, full = seg.scoring_run(S.cache, train, test, cfg, seed=0, device=S.device)
hist = pd.DataFrame(full["history"])
display(
    Markdown(
        f"Full training set: test Dice **{full['test_dice']:.3f}** (argmax), soft Dice "
        f"{full['test_soft_dice']:.3f}; {full['seconds']:.0f} s when computed."
    )
)
dad = seg.dad_scores(dice, cfg.dad_window)
gn = seg.el2n_scores(el2n, cfg.el2n_end)
scores = pd.DataFrame({"dad": dad, "el2n": gn, "first_epoch_dice": dice[0]})
scores.to_csv(S.out_dir() / "seg_scores.csv", index=False)
rho = scores["dad"].corr(scores["el2n"], method="spearman")
display(Markdown(f"Spearman correlation of DAD and pixel EL2N over the training mosaics: "
                 f"**{rho:.2f}** (−1: the two rank mosaics in exactly opposite order)."))  # fmt: skip

# %%
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8))
ax1.plot(hist["epoch"] + 1, hist["train_soft_dice"], marker="o")
ax1.set(xlabel="epoch", ylabel="mean training soft Dice", title="training")
ax2.scatter(scores["el2n"], scores["dad"], s=8, alpha=0.6)
ax2.set(xlabel=f"pixel EL2N (epochs 0–{cfg.el2n_end - 1})", ylabel="DAD",
        title="per-mosaic scores")  # fmt: skip
ax3.hist(scores["dad"], bins=30, alpha=0.7, label="DAD")
ax3.set(xlabel="DAD", ylabel="mosaics", title="DAD distribution")
fig.suptitle(title("Dice dynamics and the two scores"))
fig.tight_layout()

# %% [markdown]
# ## Prune, retrain, test
# At each kept fraction: DAD keep-hard (lowest DAD), keep-easy (highest), keep-ambiguous
# (the middle of the DAD ranking), EL2N (highest pixel EL2N) and Random; a fresh U-Net
# per subset and seed, same epochs as the full run (so smaller subsets get fewer steps,
# as in the EVA recipe). Mean test Dice (argmax), mean ± std over seeds.

# %%
runs = seg.run_pruning(
    S.cache, train, test, cfg, dad, gn, seg.METHODS, RATES, SEEDS, device=S.device
)
runs.to_csv(S.out_dir() / "seg_pruning_runs.csv", index=False)
summary = runs.groupby(["method", "rate"])["test_dice"].agg(["mean", "std", "count"]).reset_index()
rand = summary[summary["method"] == "random"].set_index("rate")["mean"]
summary["minus_random"] = summary["mean"] - summary["rate"].map(rand)
summary["minus_full"] = summary["mean"] - full["test_dice"]
summary.to_csv(S.out_dir() / "seg_pruning.csv", index=False)
display(summary.pivot_table(index="method", columns="rate", values="mean"))
display(Markdown("Mean test Dice minus Random's at the same kept fraction:"))
display(summary.pivot_table(index="method", columns="rate", values="minus_random"))

# %%
fig, ax = plt.subplots(figsize=(8, 4.4))
labels = {"random": "Random", "el2n": "EL2N (pixel mean)", "dad_hard": "DAD keep hard",
          "dad_easy": "DAD keep easy", "dad_ambiguous": "DAD keep ambiguous"}  # fmt: skip
colors = plots.arm_palette([(m, m.split("_")[0]) for m in seg.METHODS])  # DAD rules: shades
for method in seg.METHODS:
    g = summary[summary["method"] == method].sort_values("rate")
    ax.errorbar(100 * g["rate"], g["mean"], yerr=g["std"].fillna(0), marker="o", capsize=3,
                label=labels[method], color=colors[method])  # fmt: skip
ax.axhline(full["test_dice"], color="k", ls=":", lw=1, label="full training set")
ax.set(xlabel="kept fraction of training mosaics (%)", ylabel="mean test Dice",
       title=title("pruning by DAD, EL2N and at random"))  # fmt: skip
ax.set_xticks([100 * r for r in RATES], [f"{100 * r:g}" for r in RATES])
ax.legend(fontsize="small")
fig.tight_layout()

# %% [markdown]
# ## The classification form in the benchmark
# For one label per image, DAD is the windowed mean true-class confidence (keep the
# ambiguous middle by default, `evalib methods`). Here it selects coresets of
# the image classification task from the profile's surrogate dynamics, next to EL2N
# and Random with Table 1's settings (the same cached jobs as the benchmark page), at
# the two lowest and the highest of the profile's rates, every seed; clean protocol (test split,
# final epoch).

# %%
cls_rates = sorted({*sorted(P.rates)[:2], max(P.rates)})
table1_params = dict(P.table1_methods())
cls_jobs = ex.benchmark_jobs(P, S.dataset, [("dad", {}), ("el2n", table1_params["el2n"]),
                                            ("random", {})], cls_rates, S.seeds,
                             include_full=False)  # fmt: skip
cls_table = S.run(cls_jobs)
cls_table["accuracy"] = 100 * cls_table["clean_test_acc"]
cls_summary = cls_table.pivot_table(index="rate", columns="method", values="accuracy",
                                    aggfunc=["mean", "std"])  # fmt: skip
cls_summary.to_csv(S.out_dir() / "dad_classification.csv")
display(Markdown(f"Test accuracy (%) of coresets of **{ab.dataset_title(S.dataset)}**, mean "
                 f"and std over seeds {list(S.seeds)}:"))  # fmt: skip
display(cls_summary)


# %% [markdown]
# ## Compute
# CPU time of the runs behind this page as they were computed (cached runs keep their
# original time), also written to the results folder for the compute table of the
# claims page.

# %%
compute = ex.write_compute(S.out_dir() / "seg_compute.csv", "09_dad_segmentation", {
    "scoring run (records Dice and EL2N)": (1, full["seconds"]),
    "retrained U-Nets": (len(runs), runs["seconds"].sum()),
    "DAD classification coresets": (int((cls_table["method"] == "dad").sum()),
                                    cls_table.loc[cls_table["method"] == "dad", "seconds"].sum()),
})  # fmt: skip
display(compute)

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.claims); the table is written to `seg_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.

# %%
verdict_rows = seg.verdicts(runs) + [
    claims.related_claim("DAD's classification form beats Random as a coreset score",
                         "this book (no paper claim)", "DAD − Random > 0",
                         claims.paired_parts(cls_table, "rate", ["seed"], "dad", "random",
                                             "accuracy"), 1),
]  # fmt: skip
verdict_table = pd.DataFrame(verdict_rows).drop(columns="parts")
verdict_table.to_csv(S.out_dir() / "seg_verdicts.csv", index=False)
display(Markdown(claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")))

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib import lessons

display(Markdown(lessons.dad(runs, verdict_rows, cls_table, rho)))
