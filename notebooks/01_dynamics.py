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
# # Surrogate training and its dynamics (paper Fig. 1)
#
# The paper's Fig. 1 shows that a sample's error score fluctuates across epochs and that
# the amount of fluctuation differs from sample to sample. This page trains (or reads
# from the cache) the surrogate of the chosen profile and shows its learning curves,
# the error scores of samples of different difficulty, and how the score distributions
# move over training.

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

# %%
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from evalib import experiments as ex
from evalib import plots, scores

plots.setup_style()
S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device)  # fmt: skip
P = S.profile
dyn = S.dynamics()
hist = pd.DataFrame(dyn.meta["history"])
display(
    Markdown(
        f"Surrogate `{P.model.name}` (width {P.model.width}) on **{S.dataset}**, profile "
        f"`{P.name}`: {dyn.num_epochs} epochs, {dyn.num_samples} training images, "
        f"{dyn.meta['seconds'] / 60:.1f} minutes on `{dyn.meta['device']}`."
    )
)
hist.to_csv(S.out_dir() / "surrogate_history.csv", index=False)

# %%
fig = plots.learning_curves(hist, f"surrogate · {S.dataset} · {P.name} profile")

# %% [markdown]
# Training loss and accuracy (train mode, from the recorded forward passes) and the
# validation accuracy at each evaluation; the star is the test accuracy of the final
# model.

# %% [markdown]
# ## Error scores of individual samples

# %%
S_t = scores.error_norm(dyn)
windows = P.eva_windows()
mean_s = S_t.mean(0)
rng = np.random.default_rng(0)
groups = {"easy (lowest mean S)": np.argsort(mean_s)[:200],
          "hard (highest mean S)": np.argsort(mean_s)[-200:],
          "in between": np.argsort(mean_s)[len(mean_s) // 2 - 100: len(mean_s) // 2 + 100]}  # fmt: skip
picks = [int(rng.choice(g)) for g in groups.values()]
fig = plots.score_trajectories(S_t, picks, list(groups), f"error score S_t · {S.dataset}",
                               windows=list(windows.values()))  # fmt: skip

# %% [markdown]
# ## How the distribution of S moves over training

# %%
epochs = sorted({0, dyn.num_epochs // 4, dyn.num_epochs // 2, dyn.num_epochs - 1})
long = pd.DataFrame({f"epoch {t}": S_t[t] for t in epochs}).melt(var_name="epoch", value_name="S")
g = sns.displot(long, x="S", hue="epoch", kind="hist", bins=40, element="step", fill=False,
                stat="density", common_norm=False, height=3.5, aspect=2.2)  # fmt: skip
g.set_axis_labels("error score S_t (0 … √2)", "density")
g.figure.suptitle(f"distribution of S_t at four epochs · {S.dataset} · {P.name}", y=1.03)

# %% [markdown]
# ## Window variance against window mean
# EVA ranks by the variance inside windows; EXP ranks by the mean. The scatter shows how
# different the two rankings are.

# %%
early = windows["early"]
stats = scores.WindowStats.from_dynamics(dyn)
frame = pd.DataFrame(
    {"window mean of S": stats.mean(*early), "window variance of S": stats.var(*early)}
)
g = sns.jointplot(frame, x="window mean of S", y="window variance of S", kind="hex", height=4.5)
g.figure.suptitle(f"early window {early} · {S.dataset} · {P.name}", y=1.02)
print("Spearman rank correlation:", round(frame.corr(method="spearman").iloc[0, 1], 3))

# %% [markdown]
# ## What this shows
# Whether samples differ in how much their error fluctuates — the premise of EVA — can
# be read off the trajectories and the scatter above; the benchmark page tests whether
# selecting by it helps.
