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
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from evalib.book import plots
from evalib.book.notebook import start
from evalib.runs.config import PROFILES
from evalib.runs.costs import write_compute
from evalib.studies import claims, distill, distill_core, grids, labels

S = start(globals(), extra=("datasets", "ipcs"))
P = S.profile
cfg = P.distill
DATASETS = tuple(datasets or cfg.datasets)
IPCS = tuple(int(i) for i in (ipcs or cfg.ipcs))
head = f"MedMNIST · {P.name} profile"
display(
    Markdown(
        f"**Profile `{P.name}`** — {P.description}. Distillation settings: {cfg.description}. "
        f"Datasets {labels.fmt_list(labels.dataset_title(d) for d in DATASETS)}, images per "
        f"class {labels.fmt_list(IPCS)}; "
        f"EVA from the surrogate {labels.model_title(labels.model_label(P.model.name, P.model.width))} "
        f"({P.epochs} epochs), windows {labels.fmt_pair(**P.eva_windows())}."
    )
)

# %% [markdown]
# ## Settings of every profile
# The notebook uses the row of its profile. `paper` is DM's published setting and needs
# a GPU (20 000 iterations with 128-channel networks); `cpu` scales it down so that the
# four datasets finish on a 2-core CPU, `smoke` only checks that everything runs.

# %%
display(distill.settings_table(PROFILES))

# %% [markdown]
# ## Distil, select, evaluate
# The page's tasks (`evalib.studies.grids.distill`): DM at every budget on every dataset (each
# synthetic set a cached row with the digest of its images, the images in the scratch
# folder), then the evaluation networks on the distilled, random real and EVA real images
# and on the full training split (EVA from the dynamics of the profile's surrogate, shared
# with the other notebooks). Where a class has fewer images than the budget, every method
# gets all of them (k_c = min(IPC, n_c)).

# %%
S.run(grids.distill_sets(P, DATASETS, IPCS))
rows = S.run(grids.distill(P, DATASETS, IPCS))
results = distill.runs_table(rows)
synthetic = distill.synthetic_table(rows)
results.to_csv(S.out_dir() / "distill_runs.csv", index=False)
display(distill.dataset_sizes(rows))
parts = distill.compute_parts(rows)
display(
    Markdown(
        f"{len(results)} evaluation networks; DM took "
        f"{parts['distribution matching'][1] / 60:.1f} minutes in total when computed, "
        f"the evaluation tasks {parts['evaluation networks'][1] / 60:.1f} minutes."
    )
)

# %% [markdown]
# ## Accuracy at each budget
# Test accuracy (%), mean ± std over the evaluation networks; `full` is the whole
# training split with the same trainer (IPC empty).

# %%
summary = distill_core.summarize(results)
summary.to_csv(S.out_dir() / "distill_accuracy.csv", index=False)
display(summary.pivot_table(index=["dataset", "ipc"], columns="method", values="mean"))

# %%
fig = plots.distill_accuracy(
    summary, f"{head} · distilled vs random vs EVA at equal images per class", datasets=DATASETS
)
plt.show()

# %% [markdown]
# ## What the synthetic images look like
# One distilled image per class at the smallest budget (it started as a random real
# image of that class), and the DM loss during distillation (a fresh random network at
# every iteration, so the curve is noisy; block means of the loss are drawn).

# %%
examples = distill.example_images(grids.distill_sets(P, DATASETS, (min(IPCS),)), S.cache,
                                  S.data_root, S.device)  # fmt: skip
fig = plots.distill_images(examples, f"{head} · DM synthetic images, {min(IPCS)} per class")
plt.show()

# %%
fig = plots.distill_losses(synthetic, f"{head} · distribution-matching loss")
plt.show()

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
points = distill_core.predictor_table(summary)
points.to_csv(S.out_dir() / "distill_predictor_points.csv", index=False)
corr = distill_core.predictor_correlation(points)
corr.to_csv(S.out_dir() / "distill_predictor_correlation.csv", index=False)
display(points)
display(corr)

# %%
fig = plots.distill_predictor(points, f"{head} · random-subset accuracy as a predictor")
plt.show()

# %% [markdown]
# ## Compute
# CPU time of the runs behind this page as they were computed (cached runs keep their
# original time), also written to the results folder for the compute table of the
# claims page.

# %%
compute = write_compute(S.out_dir() / "distill_compute.csv", "08_distillation", parts)
display(compute)

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.studies.claims); the table is written to `distill_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.

# %%
verdict_rows = distill_core.verdicts(results, corr)
verdict_table = pd.DataFrame(verdict_rows).drop(columns="parts")
verdict_table.to_csv(S.out_dir() / "distill_verdicts.csv", index=False)
held = claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")
display(Markdown(labels.spell_out(held)))  # one minus sign, display names

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(Markdown(lessons.distillation(results, verdict_rows)))
