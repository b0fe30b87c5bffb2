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
# # A walkthrough: from images to a 5 % coreset
#
# This page runs in a few minutes on a laptop CPU. It goes through the whole idea of
# the paper once, on a small part of a real MedMNIST dataset:
#
# 1. load the images (28×28, uint8);
# 2. train a small *surrogate* network and record, at every epoch, its softmax output
#    for every training image: the **training dynamics** $p_t(i)$;
# 3. turn them into the per-epoch **error score** $S_t(i) = \lVert p_t(i) - y_i \rVert_2$;
# 4. score each image by the **variance** of $S_t(i)$ inside an early and a late window
#    (EVA) and keep the highest-scoring 5 %;
# 5. train a fresh model on that coreset and on a random 5 %, and compare.

# %% tags=["parameters"]
profile = "smoke"  # smoke | cpu | paper
dataset = "organamnist"
data_root = None  # folder with <flag>.npz; None: $EVALIB_DATA_ROOT or ~/.medmnist
results_dir = None  # job results: <results_dir>/<profile>/jobs/*.json; None: the checkout's
#   results/ (committed), or $EVALIB_RESULTS_DIR, whatever the working directory
scratch_dir = None  # dynamics and checkpoints; None: ~/.cache/evalib
seeds = None  # None: the profile's seeds
rates = None  # None: the profile's rates
executor = "serial"  # serial | process | ray
workers = 2
ray_address = None  # with executor "ray", None starts Ray here; "auto"; "host:6379"
device = None  # None: CUDA if usable, else Apple MPS, else CPU; or "cpu", "cuda:1", "mps"
rate = 0.05  # the coreset size of this walkthrough

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from evalib import data, plots, scores, select
from evalib import experiments as ex

plots.setup_style()
S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device, extra={"rate": rate})  # fmt: skip
P = S.profile

# %% [markdown]
# ## 1. The data
# `evalib.data.load` reads the official `.npz` file (and checks its MD5). Images stay
# `uint8` tensors of shape [N, C, 28, 28] until a batch is made.

# %%
ds = data.load(S.dataset, S.data_root)
print(ds.info.flag, "classes:", ds.info.n_classes, "| train/val/test:",
      len(ds.train), len(ds.val), len(ds.test))  # fmt: skip
fig, axes = plt.subplots(1, ds.info.n_classes, figsize=(1.2 * ds.info.n_classes, 1.6))
for c, ax in enumerate(axes):
    i = int(np.flatnonzero(ds.train.labels.numpy() == c)[0])
    ax.imshow(ds.train.images[i].permute(1, 2, 0).squeeze(), cmap="gray")
    ax.set_title(ds.info.class_names[c][:10], fontsize=7)
    ax.axis("off")
fig.suptitle(f"one training image per class · {S.dataset}")

# %% [markdown]
# ## 2. A surrogate run records the dynamics
# The surrogate is trained once; every score on this page (and in the book) is then a
# cheap function of its recorded outputs. The profile sets its size.

# %%
dyn = S.dynamics()
display(
    Markdown(
        f"Dynamics: **{dyn.num_epochs} epochs × {dyn.num_samples} images × {dyn.num_classes} "
        f"classes** (float16 log-softmax; profile `{P.name}`: `{P.model.name}` width "
        f"{P.model.width})."
    )
)
fig = plots.learning_curves(dyn.meta["history"], f"surrogate · {S.dataset} · {P.name} profile")

# %% [markdown]
# ## 3. Error scores over epochs
# Each curve is one training image. Easy images drop to 0 early and stay there; hard
# or ambiguous ones fluctuate. EVA looks at *how much* they fluctuate inside two
# windows (grey).

# %%
S_t = scores.error_norm(dyn)  # [T, N]
windows = P.eva_windows()
var = scores.eva_paper(dyn, windows["early"], windows["late"])
order = np.argsort(var)
picks = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
fig = plots.score_trajectories(
    S_t, picks, ["lowest EVA score", "median", "highest EVA score"],
    f"error score of three training images · {S.dataset}", windows=list(windows.values()),
)  # fmt: skip

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
ax.bar(x - 0.2, counts[0], 0.4, label="EVA")
ax.bar(x + 0.2, counts[1], 0.4, label="Random")
ax.set(xticks=x, xlabel="class", ylabel="images in the coreset",
       title=f"class make-up of a {rate:.0%} coreset ({eva_sel.size} images)")  # fmt: skip
ax.legend()
print("overlap:", scores.selection_overlap(eva_sel.indices, rnd_sel.indices))

# %% [markdown]
# ## 5. Train on each coreset
# Same recipe and seed for both; accuracy on the **test** split after the last epoch.

# %%
jobs = ex.benchmark_jobs(P, S.dataset, [("eva", windows), "random"], [rate], S.seeds[:1])
table = S.run(jobs)
cols = ["method", "rate", "n_train", "steps", "clean_test_acc", "paper_val_acc"]
display(table[cols].style.format({"clean_test_acc": "{:.1%}", "paper_val_acc": "{:.1%}"}))

# %% [markdown]
# ## What to take away
# The surrogate run is the only expensive step: scores, windows and selections are
# computed afterwards from the saved dynamics. Whether EVA beats Random depends on the
# scale: the results pages of this book run the full comparison with several seeds.
