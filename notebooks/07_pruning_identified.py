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
# # Pruning-identified hard-to-learn samples
#
# Hooker et al. (2019) found that magnitude pruning costs little overall accuracy but
# concentrates its errors on a small set of samples: a **pruning-identified exemplar
# (PIE)** is a sample whose modal prediction over a population of pruned models differs
# from the modal prediction of the dense models they came from. Jaiswal et al. ("Attend
# Who is Weak") treat such samples as **hard to learn (HTL)** and up-weight them in
# training, reporting gains of about 2–3 points in their medical localisation setting.
#
# Here, on MedMNIST classification: K dense networks (different seeds) are each pruned
# globally by weight magnitude at several sparsities (with an optional short fine-tune
# that keeps the mask). A sample's **HTL score** is the fraction of sparsities at which it
# is a PIE. HTL is then used in two ways:
#
# 1. as a **coreset score** (keep the highest HTL), next to Random and EVA;
# 2. as **training emphasis** on the full training set: per-sample loss weights
#    1 + λ·HTL,
#
# reporting overall, balanced (mean per class) and **worst-class** test accuracy, since
# the point of emphasis is to help the classes and samples the network neglects.

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
sparsities: Optional[list[float]] = None  # None: the profile's (0.3 … 0.9); -y "sparsities: [0.5]"
lams: Optional[list[float]] = None  # emphasis strengths λ; None: the profile's; -y "lams: [1.0]"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from evalib.book import plots
from evalib.book.notebook import start
from evalib.runs.costs import write_compute
from evalib.runs.runner import load_data
from evalib.studies import claims, grids, labels
from evalib.studies import pie_tables as pt

S = start(globals(), extra=("sparsities", "lams"))
P = grids.pie_profile(S.profile, sparsities, lams, rates)
cfg = P.pie
ds, train_split, train_ids, val_split, test_split = load_data(P.data_spec(S.dataset),
                                                                 S.data_root)  # fmt: skip
info = ds.info
names = list(info.class_names)
y_train, y_test = train_split.labels.numpy(), test_split.labels.numpy()
display(
    Markdown(
        f"**Profile `{P.name}`** — {P.description}. Dataset "
        f"**{labels.dataset_title(S.dataset)}** "
        f"({len(train_split)} training, {len(test_split)} test images), network "
        f"{labels.model_title(labels.model_label(P.model.name, P.model.width))}, {P.epochs} epochs. PIE settings: "
        f"{cfg.description}; sparsities {labels.fmt_list(cfg.sparsities)}, λ {labels.fmt_list(cfg.lams)}, coreset "
        f"rates {labels.fmt_rates(cfg.coreset_rates or P.rates)}, coreset seeds "
        f"{labels.fmt_list(S.seeds)}."
    )
)

# %% [markdown]
# ## Dense and pruned models
# K dense networks are trained with seeds 0…K−1, each exactly as the full-data job of the
# same seed (its final state is kept in the scratch folder). Each is pruned one-shot at
# every sparsity: the given fraction of all convolution and linear weights with the
# smallest magnitude, over the whole network, is set to zero (biases and normalisation
# layers are kept), then fine-tuned for the profile's number of steps with the mask held.
# One `pie:prune` task per dense network (`evalib.studies.grids.pie_prune`) stores the
# predictions of the dense and pruned networks on the training and test splits. The
# table gives test accuracy averaged over the K networks, and the fraction of PIEs on
# the training and test splits.

# %%
res = pt.PIEResult.from_rows(S.run(grids.pie_prune(P, S.dataset)))
pruned_table = pt.pruning_table(res, y_test, info.n_classes)
pruned_table.to_csv(S.out_dir() / "pie_pruned_accuracy.csv", index=False)
display(Markdown("Test accuracy (%) of the dense (sparsity 0) and pruned networks, mean "
                 "over the K networks; PIE share (%) of each split."))  # fmt: skip
display(pruned_table)

# %%
fig = plots.pie_pruning(pruned_table, labels.figure_title(
    S.dataset, P.name, f"{cfg.dense_models} dense networks, global magnitude pruning"))  # fmt: skip
plt.show()

# %% [markdown]
# ## Which classes pruning forgets, and where the HTL samples are
# Per class: its share of the training set, the dense networks' test accuracy, the
# pruned networks' test accuracy at the highest sparsity (both mean over K), and the
# mean HTL score of its training samples. Hooker et al. observed that pruning costs
# the most in the classes (and samples) that are already hard or rare.

# %%
per_class = pt.per_class_table(res, y_train, y_test, names)
per_class.to_csv(S.out_dir() / "pie_per_class.csv", index=False)
display(per_class)
rho_htl = per_class["drop"].corr(per_class["mean_htl"], method="spearman")
rho_share = per_class["drop"].corr(per_class["train_share"], method="spearman")
display(
    Markdown(
        f"Spearman correlation across classes between the accuracy drop at sparsity "
        f"{max(cfg.sparsities):g} and the mean HTL: **{labels.fmt_number(rho_htl, 2)}**; between the drop and "
        f"the class's training share: **{labels.fmt_number(rho_share, 2)}**."
    )
)

# %%
fig = plots.pie_classes(per_class, None if res is None else res.htl,
                        labels.figure_title(S.dataset, P.name, "what pruning forgets"))  # fmt: skip
plt.show()

# %% [markdown]
# ## HTL as a coreset score
# Keep the samples with the highest HTL (ties by index), next to Random and EVA (paper
# form, the published windows scaled to this profile; seed *s* selects with its own
# surrogate, as in Table 1, whose jobs these are). Each coreset trains the profile's
# network with the profile's recipe (same epochs as the full run); test accuracy of the
# final model, mean ± std over seeds. The HTL coresets are stored with the results and
# trained as given selections (`evalib.studies.grids.pie_trainings`).

# %%
planned = grids.pie_trainings(P, S.dataset, S.cache, S.seeds)
S.run(grids.jobs(planned))
runs = grids.page_table(planned, S.cache)[0]
core = pt.coreset_runs(runs)
core_summary = pt.coreset_summary(core)
core_summary.to_csv(S.out_dir() / "pie_coreset.csv", index=False)
display(core_summary)

# %%
fig = plots.pie_coresets(core_summary, labels.figure_title(S.dataset, P.name,
                                                       "HTL, Random and EVA coresets"))  # fmt: skip
plt.show()

# %% [markdown]
# ## HTL as training emphasis on the full training set
# `uniform` is plain training on the full training set (the dense networks' own jobs);
# `weighted λ` multiplies each sample's loss by 1 + λ·HTL (the batch loss is the
# weighted mean; the weights are stored with the results). Oversampling (repeating the
# HTL samples) is not run: a job trains on a set of samples, without repeats. Same seeds
# 0…K−1 as the dense networks, test split, final epoch; overall, balanced (mean per
# class) and worst-class accuracy from the jobs' per-class test accuracy.

# %%
emph = pt.emphasis_runs(runs)
emph_summary = pt.emphasis_summary(emph)
emph_summary.to_csv(S.out_dir() / "pie_emphasis.csv", index=False)
display(emph_summary)
pc_summary = pt.emphasis_per_class(emph, names)
pc_summary.reset_index().to_csv(S.out_dir() / "pie_emphasis_per_class.csv", index=False)
display(Markdown("Per-class test accuracy (%), mean over seeds:"))
display(pc_summary)

# %%
fig = plots.pie_emphasis(emph_summary, pc_summary, labels.figure_title(
    S.dataset, P.name, "full-data training with HTL emphasis"))  # fmt: skip
plt.show()

# %% [markdown]
# ## Compute
# Time of the runs behind this page as they were computed (cached runs keep their
# original time): the dense networks with their pruning, fine-tuning and prediction, the
# HTL coresets and the weighted trainings. Random and EVA coresets and the uniform
# trainings are Table 1's jobs and counted there. Written to the results folder for the
# compute table of the claims page.

# %%
compute = write_compute(S.out_dir() / "pie_compute.csv", "07_pruning_identified",
                           pt.compute_parts(res, core, emph))  # fmt: skip
display(compute)

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.studies.claims); the table is written to `pie_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.

# %%
pruning = pt.pruning_by_seed(res, y_test, info.n_classes)
verdict_rows = pt.verdicts(pruning, emph, core.assign(accuracy=100 * core["accuracy"]))
verdict_table = pd.DataFrame(verdict_rows, columns=["claim", "source", "expected", "ours",
                                                    "verdict", "parts"]).drop(columns="parts")  # fmt: skip
verdict_table.to_csv(S.out_dir() / "pie_verdicts.csv", index=False)
held = claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")
display(Markdown(labels.spell_out(held)))  # one minus sign, display names

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(Markdown(lessons.pruning_identified(core, verdict_rows, pruned_table)))
