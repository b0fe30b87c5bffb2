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

from evalib.book import plots
from evalib.book.notebook import start
from evalib.data import dataset_info
from evalib.runs.costs import write_compute
from evalib.studies import claims, grids, labels
from evalib.studies import segmentation as seg

pd.options.display.float_format = "{:.3f}".format
S = start(globals())
P = S.profile
cfg = P.segmentation
RATES = tuple(S.rates) if rates else cfg.rates  # kept fractions
SEEDS = tuple(S.seeds) if seeds else cfg.seeds  # retrain seeds
info = dataset_info(S.dataset)
scoring = grids.seg_scoring(P, S.dataset)  # the study's tasks and jobs: evalib.studies.grids
retrains = grids.segmentation(P, S.dataset, RATES, SEEDS)
cls_jobs = grids.dad_classification(P, S.dataset, S.seeds)
train, test = scoring.mosaics(S.data_root)
side = train.images.shape[-1]
display(
    Markdown(
        f"**Profile `{P.name}`** — segmentation settings: {cfg.description}. Patches from "
        f"**{labels.dataset_title(S.dataset)}** ({info.n_classes} classes): {len(train)} training "
        f"mosaics from the training split, {len(test)} test mosaics from the test split, "
        f"{cfg.grid}×{cfg.grid} patches each ({side}×{side} pixels). Kept fractions "
        f"{labels.fmt_rates(RATES)}, retrain seeds {labels.fmt_list(SEEDS)}; DAD over epochs "
        f"{labels.fmt_window(cfg.dad_window or (0, cfg.epochs))}, EL2N over epochs "
        f"{labels.fmt_window((0, cfg.el2n_end))}. {1 + len(retrains)} U-Net runs and "
        f"{len(cls_jobs)} classification coresets."
    )
)


def title(what: str) -> str:
    return f"{labels.dataset_title(S.dataset)} mosaics · {P.name} profile · {what}"


# %%
fig = plots.seg_mosaics(train.images, train.masks, train.patch_labels, info.class_names,
                        title("training mosaics (top) and their pixel labels (bottom)"))  # fmt: skip
plt.show()

# %% [markdown]
# ## The scoring run
# One U-Net (seed 0) is trained on all training mosaics; its per-epoch soft Dice and
# pixel EL2N of every mosaic are the dynamics the scores are computed from. Its test
# Dice is the full-data reference. (A task of the one runner, `segmentation:scoring`: its
# row, with each mosaic's DAD and EL2N, is cached in `<results>/jobs/` like every job.)

# %%
S.run([scoring])
full = S.cache.job_result(scoring)  # the whole row, history and scores included
display(Markdown(seg.describe_full(full)))
scores = seg.scores_table(full)
scores.to_csv(S.out_dir() / "seg_scores.csv", index=False)
rho = scores["dad"].corr(scores["el2n"], method="spearman")
display(Markdown(f"Spearman correlation of DAD and pixel EL2N over the training mosaics: "
                 f"**{labels.fmt_number(rho, 2)}** (−1: the two rank mosaics in exactly opposite order)."))  # fmt: skip

# %%
fig = plots.seg_scores(pd.DataFrame(full["history"] if full else [], columns=["epoch", "train_soft_dice"]),
                       scores, cfg.el2n_end, title("Dice dynamics and the two scores"))  # fmt: skip
plt.show()

# %% [markdown]
# ## Prune, retrain, test
# At each kept fraction: DAD keep-hard (lowest DAD), keep-easy (highest), keep-ambiguous
# (the middle of the DAD ranking), EL2N (highest pixel EL2N) and Random; a fresh U-Net
# per subset and seed, same epochs as the full run (so smaller subsets get fewer steps,
# as in the EVA recipe). Mean test Dice (argmax), mean ± std over seeds.

# %%
runs = seg.runs_table(S.run(retrains))
runs.to_csv(S.out_dir() / "seg_pruning_runs.csv", index=False)
summary = seg.pruning_summary(runs, full["test_dice"] if full else None)
summary.to_csv(S.out_dir() / "seg_pruning.csv", index=False)
display(summary.pivot_table(index="method", columns="rate", values="mean"))
display(Markdown("Mean test Dice minus Random's at the same kept fraction:"))
display(summary.pivot_table(index="method", columns="rate", values="minus_random"))

# %%
fig = plots.seg_pruning(summary, title("pruning by DAD, EL2N and at random"),
                        full["test_dice"] if full else None)  # fmt: skip
plt.show()

# %% [markdown]
# ## The classification form in the benchmark
# For one label per image, DAD is the windowed mean true-class confidence (keep the
# ambiguous middle by default, `evalib methods`). Here it selects coresets of
# the image classification task from the profile's surrogate dynamics, next to EL2N
# and Random with Table 1's settings (the same cached jobs as the benchmark page), at
# the two lowest and the highest of the profile's rates, every seed; clean protocol (test split,
# final epoch).

# %%
cls_table = S.run(cls_jobs)
cls_table["accuracy"] = 100 * cls_table["clean_test_acc"]
cls_summary = cls_table.pivot_table(index="rate", columns="method", values="accuracy",
                                    aggfunc=["mean", "std"])  # fmt: skip
cls_summary.to_csv(S.out_dir() / "dad_classification.csv")
display(Markdown(f"Test accuracy (%) of coresets of **{labels.dataset_title(S.dataset)}**, mean "
                 f"and std over seeds {labels.fmt_list(S.seeds)}:"))  # fmt: skip
display(cls_summary)


# %% [markdown]
# ## Compute
# CPU time of the runs behind this page as they were computed (cached runs keep their
# original time), also written to the results folder for the compute table of the
# claims page.

# %%
cls_dad = cls_table[cls_table["method"] == "dad"]
compute = write_compute(S.out_dir() / "seg_compute.csv", "09_dad_segmentation", {
    "scoring run (records Dice and EL2N)": (int(full is not None), full["seconds"] if full else 0.0),
    "retrained U-Nets": (int(runs["seconds"].notna().sum()), runs["seconds"].sum()),
    "DAD classification coresets": (len(cls_dad), cls_dad["seconds"].sum()),
})  # fmt: skip
display(compute)

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.studies.claims); the table is written to `seg_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.

# %%
verdict_rows = seg.verdicts(runs) + [
    claims.related_claim("dad_classification", claims.paired_parts(
        cls_table, "rate", ["seed"], "dad", "random", "accuracy")),
]  # fmt: skip
verdict_table = pd.DataFrame(verdict_rows).drop(columns="parts")
verdict_table.to_csv(S.out_dir() / "seg_verdicts.csv", index=False)
held = claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")
display(Markdown(labels.spell_out(held)))  # one minus sign, display names

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(Markdown(labels.spell_out(lessons.dad(runs, verdict_rows, cls_table, rho))))
