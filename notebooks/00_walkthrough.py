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
# # A walkthrough: from images to a coreset
#
# This page goes through the whole idea of the paper once, on a real MedMNIST dataset:
#
# 1. load the images (28×28, uint8);
# 2. a small *surrogate* network, trained on the images, records at every epoch its
#    softmax output for every training image: the **training dynamics** $p_t(i)$;
# 3. these become the per-epoch **error score** $S_t(i) = \lVert p_t(i) - y_i \rVert_2$;
# 4. each image is scored by the **variance** of $S_t(i)$ inside an early and a late
#    window (EVA), and the highest-scoring images form the coreset;
# 5. a fresh model is trained on the coreset, and on coresets of Random and of two
#    score baselines (EL2N, Forgetting) of the same size, and tested.
#
# It has two modes. **`class`** (the default) is meant for a lecture or a lab: it reads
# the dynamics of a small surrogate committed with the book (5,000 OrganAMNIST training
# images, 10 epochs; `evalib/book/classroom.py` gives the command that recorded them), so
# no surrogate is trained, and it trains only small coreset models for a fixed number
# of steps. It needs the OrganAMNIST file (downloaded on first use, 38 MB) and a few
# minutes of a laptop CPU; the page states the time it took at the end. **`profile`**
# trains (or reads from the cache) the surrogate of the chosen profile instead and
# compares EVA with Random through the same job runner as the results pages.

# %% tags=["parameters"]
from typing import Optional  # papermill reads the types: --help-notebook

mode: str = "class"  # class: committed small dynamics, minutes on a laptop | profile: the profile's surrogate
profile: str = "smoke"  # smoke | cpu | paper (mode "profile")
dataset: str = "organamnist"
data_root: Optional[str] = None  # folder with <flag>.npz; None: $EVALIB_DATA_ROOT or ~/.medmnist
results_dir: Optional[str] = None  # None: $EVALIB_RESULTS_DIR, else the checkout's results/
scratch_dir: Optional[str] = None  # dynamics and checkpoints; None: ~/.cache/evalib
seeds: Optional[list[int]] = None  # None: profile's; class: 0, 1; -y "seeds: [0, 1]"
rates: Optional[list[float]] = None  # None: profile's; class: 2 %, 10 %; -y "rates: [0.05]"
executor: str = "serial"  # serial | process | ray
workers: int = 2
ray_address: Optional[str] = None  # with executor "ray", None starts Ray here; "auto"; "host:6379"
device: Optional[str] = None  # None: CUDA, else Apple MPS, else CPU; or "cpu", "cuda:1", "mps"
rate: float = 0.05  # the coreset whose make-up section 4 shows

# %%
import os
import time

T_START, CPU_START = time.perf_counter(), time.process_time()
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from evalib import data, scores, select
from evalib.book import classroom, plots
from evalib.book.notebook import start
from evalib.errors import EvalibError
from evalib.runs.batch import benchmark_jobs
from evalib.studies import labels

S = start(globals(), extra=("mode", "rate"))
P = S.profile
if mode not in ("class", "profile"):
    raise EvalibError(f"parameter mode must be 'class' or 'profile', got {mode!r}")
CLASS = mode == "class"
if CLASS and S.dataset != "organamnist":
    raise EvalibError("mode 'class' has dynamics for organamnist only; use mode 'profile'")
PLAN = classroom.ClassPlan(
    methods=(("random", {}), ("eva", {}), ("el2n", {}), ("forgetting", {})),
    rates=tuple(rates) if rates else (0.02, 0.1),
    seeds=tuple(seeds) if seeds else (0, 1),
)
if CLASS:
    display(Markdown(
        f"**Mode `class`**: the committed dynamics of a small surrogate, no surrogate "
        f"training; {len(PLAN.methods)} methods × {len(PLAN.rates)} rates × "
        f"{len(PLAN.seeds)} seeds = {len(PLAN.methods) * len(PLAN.rates) * len(PLAN.seeds)} "
        f"coreset models (`{PLAN.model}` width {PLAN.width}, {PLAN.steps} steps of "
        f"{PLAN.batch_size} images each), tested on {PLAN.test_subset:,} test images."
    ))  # fmt: skip
else:
    display(Markdown(f"**Mode `profile`**, profile **`{P.name}`**: {P.description}."))

# %% [markdown]
# ## 1. The data
# `evalib.data.load` reads the official `.npz` file (and checks its MD5). Images stay
# `uint8` tensors of shape [N, C, 28, 28] until a batch is made.

# %%
ds = data.load(S.dataset, S.data_root)
print(
    f"{labels.dataset_title(ds.info.flag)}: {ds.info.n_classes} classes; "
    f"{len(ds.train):,} training, {len(ds.val):,} validation, {len(ds.test):,} test images"
)
per_row = (ds.info.n_classes + 1) // 2  # two rows: every class name in full, legible
fig, axes = plt.subplots(2, per_row, figsize=(plots.MAX_WIDTH, 4.2))
for c, ax in enumerate(axes.flat):
    ax.axis("off")
    if c >= ds.info.n_classes:
        continue
    i = int(np.flatnonzero(ds.train.labels.numpy() == c)[0])
    ax.imshow(ds.train.images[i].permute(1, 2, 0).squeeze(), cmap="gray")
    ax.set_title(ds.info.class_names[c].replace("-", "-\n", 1), fontsize=10)
fig.suptitle(f"one training image per class · {labels.dataset_title(S.dataset)}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. A surrogate run records the dynamics
# The surrogate is trained once; every score on this page (and in the book) is then a
# cheap function of its recorded outputs.

# %%
dyn = classroom.load_class_dynamics() if CLASS else S.dynamics()
meta = dyn.meta
display(Markdown(
    f"Dynamics: **{dyn.num_epochs} epochs × {dyn.num_samples:,} images × {dyn.num_classes} "
    f"classes** (float16 log-softmax, {dyn.log_probs.nbytes / 1e6:.1f} MB in memory), recorded by a "
    f"`{meta.get('model', P.model.name)}` surrogate in {meta.get('seconds', 0) / 60:.1f} "
    f"minutes on `{meta.get('device', '?')}`"
    + (" (committed with the book)." if CLASS else f" (profile `{P.name}`).")
))  # fmt: skip
fig = plots.learning_curves(meta["history"], f"surrogate · {labels.dataset_title(S.dataset)}")
plt.show()

# %% [markdown]
# ## 3. Error scores over epochs
# Each curve is one training image. Easy images drop to 0 early and stay there; hard
# or ambiguous ones fluctuate. EVA looks at *how much* they fluctuate inside two
# windows (grey); the bars under the curves are what it adds up (left) and what a score
# of window means would add up instead (right).

# %%
S_t = scores.error_norm(dyn)  # [T, N]
windows = classroom.default_windows(dyn.num_epochs) if CLASS else P.eva_windows()
picks = plots.representative_samples(S_t, windows)
fig = plots.trajectories_with_window_stats(
    S_t, picks, windows, f"error score of five training images · {labels.dataset_title(S.dataset)}"
)
plt.show()

# %% [markdown]
# ## 4. Choose a coreset
# EVA keeps the images with the highest summed window variance. Random keeps a
# uniform sample. Both give $M = \lceil \alpha N \rceil$ images.

# %%
eva_sel = select.select("eva", dyn, rate, **windows)
rnd_sel = select.select("random", dyn, rate, seed=0)
counts = np.stack([np.bincount(dyn.labels[s.indices], minlength=dyn.num_classes)
                   for s in (eva_sel, rnd_sel)])  # fmt: skip
fig, ax = plt.subplots(figsize=(8, 3))
x = np.arange(dyn.num_classes)
ax.bar(x - 0.2, counts[0], 0.4, label="EVA", color=plots.method_color("eva"))
ax.bar(x + 0.2, counts[1], 0.4, label="Random", color=plots.method_color("random"))
ax.set(xticks=x, xlabel="class (number)", ylabel="images in the coreset",
       title=f"class make-up of a {labels.fmt_percent(rate)} coreset ({eva_sel.size:,} images)")  # fmt: skip
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
plt.show()
shared = scores.selection_overlap(eva_sel.indices, rnd_sel.indices)
print(f"the two coresets share {shared['intersection']} of {eva_sel.size} images "
      f"(Jaccard {shared['jaccard']:.3f})")  # fmt: skip

# %% [markdown]
# ## 5. Train on each coreset
# Same recipe and seed for every method; accuracy on the **test** split after the last
# step. In mode `class`: Random, EVA and two score baselines, EL2N (the error early in
# training) and Forgetting (how often an image is forgotten), which keep the *hardest*
# images.

# %%
if CLASS:
    # EVA on the two windows; EL2N on the early window's epochs, scaled as every profile
    # scales it (the CCS code sums the first 10 of 200 epochs)
    params = {"eva": dict(windows), "el2n": {"end": windows["early"][1]}}
    plan = classroom.ClassPlan(
        methods=tuple((m, params.get(m, {})) for m, _ in PLAN.methods),
        rates=PLAN.rates, seeds=PLAN.seeds,
    )  # fmt: skip
    table = classroom.run_class(dyn, ds, plan)
    gaps = classroom.against_random(table)
    out = classroom.save_table(table, S.cache.results.parent / "class").parent  # beside profiles
    summary = table.assign(accuracy=100 * table["test_acc"]).pivot_table(
        index="method", columns="rate", values="accuracy", aggfunc="mean", sort=False
    )
    summary.columns = [f"{labels.fmt_percent(r)} of training images" for r in summary.columns]
    display(Markdown("Test accuracy (%), mean over seeds:"))
    display(summary.round(1))
else:
    jobs = benchmark_jobs(P, S.dataset, [("eva", windows), "random"], [rate], S.seeds[:1])
    table = S.run(jobs)
    cols = ["method", "rate", "n_train", "steps", "clean_test_acc", "paper_val_acc"]
    display(table[cols].assign(clean_test_acc=100 * table["clean_test_acc"],
                               paper_val_acc=100 * table["paper_val_acc"]))  # fmt: skip

# %% [markdown]
# ## 6. What the comparison shows
# Each bar is a method's accuracy minus Random's at the same rate and seed, in accuracy
# points (mean over seeds; the whiskers span the seeds). Below zero, the method chose a
# worse coreset than chance.

# %%
if CLASS:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    methods = list(dict.fromkeys(gaps["method"]))
    width = 0.8 / len(methods)
    rates_ = sorted(gaps["rate"].unique())
    for j, m in enumerate(methods):
        g = gaps[gaps["method"] == m].set_index("rate").reindex(rates_)
        xs = np.arange(len(rates_)) - 0.4 + width * (j + 0.5)
        err = np.vstack([g["minus_random"] - g["min"], g["max"] - g["minus_random"]])
        ax.bar(xs, g["minus_random"], width, yerr=err, capsize=3, label=plots.label(m),
               color=plots.method_color(m))  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(rates_)), [labels.fmt_percent(r) for r in rates_])
    ax.set(xlabel=f"selection rate (share of the {dyn.num_samples:,} images)",
           ylabel="minus Random (accuracy points)",
           title=f"coreset methods against Random · {labels.dataset_title(S.dataset)} · "
           "class mode")  # fmt: skip
    ax.legend(fontsize="small", ncol=len(methods), loc="upper center",
              bbox_to_anchor=(0.5, -0.2), frameon=False)  # fmt: skip
    plt.show()
    worst = gaps.loc[gaps["minus_random"].idxmin()]
    eva = gaps[gaps["method"] == "eva"]
    display(Markdown(
        f"At {labels.fmt_percent(worst['rate'])} of the images, **{labels.label(worst['method'])}** reaches "
        f"{worst['accuracy']:.1f} % against {worst['random']:.1f} % for Random "
        f"({labels.fmt_number(worst['minus_random'], 1, sign=True)} points): keeping only the hardest images leaves "
        f"classes out and fills the coreset with ambiguous or mislabelled ones, the "
        f"collapse of score baselines at low rates that the paper reports (its claim 2). "
        f"EVA's difference to Random here is "
        + ", ".join(f"{labels.fmt_number(r['minus_random'], 1, sign=True)} points at "
                    f"{labels.fmt_percent(r['rate'])}"
                    for _, r in eva.iterrows())
        + f" ({len(PLAN.seeds)} seeds: too few to call it; the results pages test it with "
        f"a larger surrogate and more seeds)."
    ))  # fmt: skip

# %% [markdown]
# ## How long this page took

# %%
seconds = time.perf_counter() - T_START
cpu_seconds = time.process_time() - CPU_START  # this kernel's CPU time, all its threads
load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
cpus = os.cpu_count() or 0
display(Markdown(
    f"This page ran in **{seconds / 60:.1f} minutes** of wall time (mode `{mode}`), using "
    f"{cpu_seconds / 60:.1f} minutes of CPU time, on a machine with {cpus} CPU cores and a "
    f"load average of {load:.1f} when it finished"
    + (" (a load above the core count means other programs were competing for the "
       "cores, so the wall time is longer than on an idle laptop)" if load > cpus else "")
    + "."
))  # fmt: skip
if CLASS:
    import json

    with open(out / "walkthrough_run.json", "w") as fh:
        json.dump({"seconds": seconds, "cpu_seconds": cpu_seconds, "load_1min": load,
                   "cpus": cpus, "mode": mode}, fh)  # fmt: skip

# %% [markdown]
# ## What to take away
# The surrogate run is the only expensive step: scores, windows and selections are
# computed afterwards from the saved dynamics, and the committed dynamics of mode
# `class` are enough to see a real effect in a few minutes. Whether EVA beats Random
# depends on the scale: the results pages run the full comparison with several seeds,
# and {doc}`../book/teaching` has exercises on this page.
