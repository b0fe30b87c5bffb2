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
#    1 + λ·HTL, or oversampling (1 + ⌊λ·HTL + ½⌋ copies of each sample),
#
# reporting overall, balanced (mean per class) and **worst-class** test accuracy, since
# the point of emphasis is to help the classes and samples the network neglects.

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
sparsities: Optional[list[float]] = None  # None: the profile's (0.3 … 0.9); -y "sparsities: [0.5]"
lams: Optional[list[float]] = None  # emphasis strengths λ; None: the profile's; -y "lams: [1.0]"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from evalib import ablations as ab
from evalib import claims, pie, plots
from evalib import experiments as ex
from evalib.scores import compute_scores, random_scores
from evalib.select import select

plots.setup_style()
pd.options.display.float_format = "{:.2f}".format
S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device,
                      extra={"sparsities": sparsities, "lams": lams})  # fmt: skip
P = S.profile
cfg = P.pie
SPARSITIES = tuple(float(s) for s in (sparsities or cfg.sparsities))
LAMS = tuple(float(v) for v in (lams or cfg.lams))
CORESET_RATES = tuple(S.rates) if rates else (cfg.coreset_rates or P.rates)
ds, train_split, train_ids, val_split, test_split = ex.load_data(
    P.data_spec(S.dataset), S.data_root
)
info = ds.info
names = list(info.class_names)
y_test = test_split.labels.numpy()
y_train = train_split.labels.numpy()
K = cfg.dense_models
display(
    Markdown(
        f"**Profile `{P.name}`** — {P.description}. Dataset **{ab.dataset_title(S.dataset)}** "
        f"({len(train_split)} training, {len(test_split)} test images), network "
        f"`{ab.model_label(P.model.name, P.model.width)}`, {P.epochs} epochs. PIE settings: "
        f"{cfg.description}; sparsities {list(SPARSITIES)}, λ {list(LAMS)}, coreset rates "
        f"{[f'{r:.0%}' for r in CORESET_RATES]}, coreset seeds {list(S.seeds)}."
    )
)


def title(what: str) -> str:
    return ab.figure_title(S.dataset, P.name, what)


# %% [markdown]
# ## Dense and pruned models
# K dense networks are trained with seeds 0…K−1 (cached in the scratch folder under
# `pie/<config key>/`). Each is pruned one-shot at every sparsity: the given fraction of
# all convolution and linear weights with the smallest magnitude, over the whole network,
# is set to zero (biases and normalisation layers are kept), then fine-tuned for the
# profile's number of steps with the mask held. The table gives test accuracy averaged
# over the K networks, and the fraction of PIEs on the training and test splits.

# %%
dense_cfgs = [ex.SurrogateConfig(P.data_spec(S.dataset), P.model, P.recipe, seed)
              for seed in range(K)]  # fmt: skip
res = pie.run_pie(dense_cfgs, S.cache, train_split, test_split, SPARSITIES,
                  cfg.fine_tune_steps, cfg.fine_tune_lr, device=S.device)  # fmt: skip


def mean_report(preds: np.ndarray) -> dict:
    reps = [pie.accuracy_report(p, y_test, info.n_classes) for p in preds]
    keys = ("accuracy", "balanced_accuracy", "worst_class_accuracy")
    return {k: 100 * float(np.mean([r[k] for r in reps])) for k in keys}


pie_test = res.pie_fraction("test")
pie_train = res.pie_fraction("train")
rows = [{"sparsity": 0.0, **mean_report(res.dense["test"]), "pie_train": 0.0, "pie_test": 0.0}]
for s in SPARSITIES:
    rows.append({"sparsity": s, **mean_report(res.pruned[s]["test"]),
                 "pie_train": 100 * pie_train[s], "pie_test": 100 * pie_test[s]})  # fmt: skip
pruned_table = pd.DataFrame(rows)
pruned_table.to_csv(S.out_dir() / "pie_pruned_accuracy.csv", index=False)
display(Markdown("Test accuracy (%) of the dense (sparsity 0) and pruned networks, mean "
                 "over the K networks; PIE share (%) of each split."))  # fmt: skip
display(pruned_table)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for col, lab in (("accuracy", "overall"), ("balanced_accuracy", "balanced"),
                 ("worst_class_accuracy", "worst class")):  # fmt: skip
    ax1.plot(100 * pruned_table["sparsity"], pruned_table[col], marker="o", label=lab)
ax1.set(xlabel="sparsity (% of weights removed)", ylabel="test accuracy (%)",
        title="accuracy of the pruned networks")  # fmt: skip
ax1.legend()
ax2.plot(100 * pruned_table["sparsity"], pruned_table["pie_train"], marker="o", label="train")
ax2.plot(100 * pruned_table["sparsity"], pruned_table["pie_test"], marker="s", label="test")
ax2.set(xlabel="sparsity (% of weights removed)", ylabel="PIEs (% of the split)",
        title="pruning-identified exemplars")  # fmt: skip
ax2.legend()
fig.suptitle(title(f"{K} dense networks, global magnitude pruning"))
fig.tight_layout()

# %% [markdown]
# ## Which classes pruning forgets, and where the HTL samples are
# Per class: its share of the training set, the dense networks' test accuracy, the
# pruned networks' test accuracy at the highest sparsity (both mean over K), and the
# mean HTL score of its training samples. Hooker et al. observed that pruning costs
# the most in the classes (and samples) that are already hard or rare.

# %%
s_max = max(SPARSITIES)
pc_dense = np.nanmean([pie.per_class_accuracy(p, y_test, info.n_classes)
                       for p in res.dense["test"]], axis=0)  # fmt: skip
pc_pruned = np.nanmean([pie.per_class_accuracy(p, y_test, info.n_classes)
                        for p in res.pruned[s_max]["test"]], axis=0)  # fmt: skip
counts = np.bincount(y_train, minlength=info.n_classes)
htl_mean = np.array([res.htl[y_train == c].mean() if counts[c] else np.nan
                     for c in range(info.n_classes)])  # fmt: skip
per_class = pd.DataFrame({
    "class": names,
    "train_share": 100 * counts / counts.sum(),
    "dense_acc": 100 * pc_dense,
    f"pruned_acc_{s_max:g}": 100 * pc_pruned,
    "drop": 100 * (pc_dense - pc_pruned),
    "mean_htl": htl_mean,
})  # fmt: skip
per_class.to_csv(S.out_dir() / "pie_per_class.csv", index=False)
display(per_class)
rho_htl = per_class["drop"].corr(per_class["mean_htl"], method="spearman")
rho_share = per_class["drop"].corr(per_class["train_share"], method="spearman")
display(
    Markdown(
        f"Spearman correlation across classes between the accuracy drop at sparsity {s_max:g} "
        f"and the mean HTL: **{rho_htl:.2f}**; between the drop and the class's training "
        f"share: **{rho_share:.2f}**."
    )
)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
x = np.arange(info.n_classes)
ax1.bar(x - 0.2, per_class["dense_acc"], 0.4, label="dense")
ax1.bar(x + 0.2, per_class[f"pruned_acc_{s_max:g}"], 0.4, label=f"pruned {s_max:.0%}")
ax1.set_xticks(x, names, rotation=45, ha="right")
ax1.set(ylabel="test accuracy (%)", title="per-class accuracy")
ax1.legend(fontsize="small")
values, freq = np.unique(res.htl, return_counts=True)
ax2.bar([f"{v:.2f}" for v in values], 100 * freq / freq.sum())
ax2.set(xlabel="HTL score (fraction of sparsities at which the sample is a PIE)",
        ylabel="training samples (%)", title="HTL distribution")  # fmt: skip
fig.suptitle(title("what pruning forgets"))
fig.tight_layout()

# %% [markdown]
# ## HTL as a coreset score
# Keep the samples with the highest HTL (ties by index), next to Random and EVA (paper
# form, the official windows scaled to this profile; dynamics of the profile's
# surrogate). Each coreset trains the profile's network with the profile's recipe (same
# epochs as the full run); test accuracy of the final model, mean ± std over seeds.

# %%
dyn = S.dynamics()
if not np.array_equal(np.asarray(dyn.sample_ids), train_ids):
    raise RuntimeError("the surrogate's dynamics cover other samples than this training split")
eva_scores = compute_scores("eva", dyn, **P.eva_windows())
core_rows = []
for rate in CORESET_RATES:
    for seed in S.seeds:
        chosen = {
            "pie": pie.htl_selection(res.htl, rate).indices,
            "random": select("random", random_scores(len(train_split), seed), rate).indices,
            "eva": select("eva", eva_scores, rate).indices,
        }
        for method, pos in chosen.items():
            tag = f"coreset-{method}-{rate}"
            row = pie.run_training(tag, S.cache, S.dataset, P.model, P.recipe, seed,
                                   train_split, test_split, positions=pos,
                                   device=S.device)  # fmt: skip
            core_rows.append({"method": method, "rate": rate, **row})
core = pd.DataFrame(core_rows)
core_summary = (
    core.assign(accuracy=100 * core["accuracy"],
                worst_class_accuracy=100 * core["worst_class_accuracy"])
    .groupby(["method", "rate"])[["accuracy", "worst_class_accuracy"]]
    .agg(["mean", "std"])
)  # fmt: skip
core_summary.columns = ["_".join(c) for c in core_summary.columns]
core_summary = core_summary.reset_index()
core_summary.to_csv(S.out_dir() / "pie_coreset.csv", index=False)
display(core_summary)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(plots.MAX_WIDTH, 3.6), sharey=True)
for method, g in core_summary.groupby("method"):
    g = g.sort_values("rate")
    name = "HTL (PIE)" if method == "pie" else plots.label(method)
    for ax, col in ((ax1, "accuracy"), (ax2, "worst_class_accuracy")):
        ax.errorbar(100 * g["rate"], g[f"{col}_mean"], yerr=g[f"{col}_std"].fillna(0),
                    marker="o", capsize=3, label=name,
                    color=plots.method_color(method))  # fmt: skip
for ax, what in ((ax1, "overall"), (ax2, "worst class")):
    ax.set(xscale="log", xlabel="selection rate (%, log scale)", ylabel="test accuracy (%)",
           title=f"{what} accuracy")  # fmt: skip
    ax.set_xticks([100 * r for r in CORESET_RATES], [f"{100 * r:g}" for r in CORESET_RATES])
    ax.minorticks_off()
ax1.legend(fontsize="small")
fig.suptitle(title("HTL, Random and EVA coresets"))
fig.tight_layout()

# %% [markdown]
# ## HTL as training emphasis on the full training set
# `uniform` is plain training (the K dense networks themselves); `weighted λ` multiplies
# each sample's loss by 1 + λ·HTL (the batch loss is the weighted mean);
# `oversample λ` repeats each sample 1 + ⌊λ·HTL + ½⌋ times in every epoch (so an epoch
# has more steps). Same seeds 0…K−1 as the dense networks, test split, final epoch.

# %%
emph_rows = []
for k in range(K):
    report = pie.accuracy_report(res.dense["test"][k], y_test, info.n_classes)
    emph_rows.append({"variant": "uniform", "seed": k, **report})
for lam in LAMS:
    variants = {f"weighted λ={lam:g}": {"weights": pie.emphasis_weights(res.htl, lam)}}
    if cfg.oversample:
        variants[f"oversample λ={lam:g}"] = {"positions": pie.oversample(res.htl, lam)}
    for variant, how in variants.items():
        for k in range(K):
            row = pie.run_training(variant, S.cache, S.dataset, P.model, P.recipe, k,
                                   train_split, test_split, **how, device=S.device)  # fmt: skip
            emph_rows.append({"variant": variant, **row})
emph = pd.DataFrame(emph_rows)
metrics = ["accuracy", "balanced_accuracy", "worst_class_accuracy"]
emph[metrics] *= 100
order = list(dict.fromkeys(emph["variant"]))
emph_summary = emph.groupby("variant", sort=False)[metrics].agg(["mean", "std"])
emph_summary.columns = ["_".join(c) for c in emph_summary.columns]
emph_summary = emph_summary.reset_index()
for m in metrics:
    emph_summary[f"{m}_vs_uniform"] = emph_summary[f"{m}_mean"] - float(
        emph_summary.loc[emph_summary["variant"] == "uniform", f"{m}_mean"].iloc[0]
    )
emph_summary.to_csv(S.out_dir() / "pie_emphasis.csv", index=False)
display(emph_summary)
pc = pd.DataFrame(
    [[np.nan if v is None else 100 * v for v in r["per_class"]] for r in emph_rows], columns=names
)
pc["variant"] = [r["variant"] for r in emph_rows]
pc_summary = pc.groupby("variant", sort=False)[names].mean().T
pc_summary.index.name = "class"
pc_summary.reset_index().to_csv(S.out_dir() / "pie_emphasis_per_class.csv", index=False)
display(Markdown("Per-class test accuracy (%), mean over seeds:"))
display(pc_summary)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1, 1.6]})
xx = np.arange(len(metrics))
wbar = 0.8 / len(order)
for i, v in enumerate(order):
    row = emph_summary[emph_summary["variant"] == v].iloc[0]
    ax1.bar(xx + i * wbar, [row[f"{m}_mean"] for m in metrics], wbar,
            yerr=[0 if np.isnan(row[f"{m}_std"]) else row[f"{m}_std"] for m in metrics],
            capsize=2, label=v)  # fmt: skip
ax1.set_xticks(xx + wbar * (len(order) - 1) / 2, ["overall", "balanced", "worst class"])
ax1.set(ylabel="test accuracy (%)", title="emphasis on HTL samples")
ax1.legend(fontsize="small", loc="upper right")
for v in order:
    ax2.plot(range(len(names)), pc_summary[v], marker="o", label=v)
ax2.set_xticks(range(len(names)), names, rotation=45, ha="right")
ax2.set(ylabel="test accuracy (%)", title="per class")
fig.suptitle(title("full-data training with HTL emphasis"))
fig.tight_layout()

# %% [markdown]
# ## Compute
# CPU time of the runs behind this page as they were computed (cached runs keep their
# original time), also written to the results folder for the compute table of the
# claims page.

# %%
trained = [r for r in emph_rows if r["variant"] != "uniform"]
compute = ex.write_compute(S.out_dir() / "pie_compute.csv", "07_pruning_identified", {
    "dense networks": (K, sum(m.get("seconds", 0.0) for m in res.meta)),
    "coreset trainings": (len(core), core["seconds"].sum()),
    "emphasis trainings": (len(trained), sum(r["seconds"] for r in trained)),
})  # fmt: skip
display(compute)
display(Markdown("Pruning, fine-tuning and prediction are not timed (minutes at most)."))

# %% [markdown]
# ## What held
# Each claim as a paired comparison over seeds, judged with the rules of the claims
# page (evalib.claims); the table is written to `pie_verdicts.csv` next to the other
# results of this page. It reports this profile's runs only: at `smoke` it says nothing
# about the claims.


# %%
def report_row(k: int, sparsity: float, preds: np.ndarray) -> dict:
    rep = pie.accuracy_report(preds, y_test, info.n_classes)
    return {"seed": k, "sparsity": sparsity, "accuracy": 100 * rep["accuracy"],
            "worst_class_accuracy": 100 * rep["worst_class_accuracy"]}  # fmt: skip


pruning = pd.DataFrame(
    [report_row(k, 0.0, res.dense["test"][k]) for k in range(K)]
    + [report_row(k, s, res.pruned[s]["test"][k]) for s in SPARSITIES for k in range(K)]
)
coreset_pct = core.assign(accuracy=100 * core["accuracy"])
verdict_rows = pie.verdicts(pruning, emph, coreset_pct)
verdict_table = pd.DataFrame(verdict_rows).drop(columns="parts")
verdict_table.to_csv(S.out_dir() / "pie_verdicts.csv", index=False)
display(Markdown(claims.verdict_markdown(verdict_rows, f"What held at the `{P.name}` profile")))

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib import lessons

display(Markdown(lessons.pruning_identified(core, verdict_rows, pruned_table)))
