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
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from evalib import scores
from evalib.book import plots
from evalib.book.notebook import start
from evalib.studies import labels

S = start(globals())
P = S.profile
dyn = S.dynamics()
hist = pd.DataFrame(dyn.meta["history"])
display(
    Markdown(
        f"Surrogate {labels.model_title(labels.model_label(P.model.name, P.model.width))} on "
        f"**{labels.dataset_title(S.dataset)}**, profile `{P.name}`: {dyn.num_epochs} epochs, "
        f"{dyn.num_samples:,} training images, "
        f"{dyn.meta['seconds'] / 60:.1f} minutes on `{dyn.meta['device']}`."
    )
)
hist.to_csv(S.out_dir() / "surrogate_history.csv", index=False)

# %%
fig = plots.learning_curves(hist, labels.figure_title(S.dataset, P.name, "surrogate"))

# %% [markdown]
# Training loss and accuracy (train mode, from the recorded forward passes) and the
# validation accuracy at each evaluation; the star is the test accuracy of the final
# model.

# %% [markdown]
# ## Error scores of individual samples, and what the windows make of them
# Five training images chosen by what their error does: the one with the highest EVA
# score (summed window variance), one with the median score, the one learned earliest
# (lowest mean error), one never learned (highest mean error), and one whose error is
# high but steady inside the early window. For each, the error score over epochs with
# the two default windows shaded, and inside each window its mean ± one standard
# deviation; below, the window variances EVA adds up and the window means EXP uses.

# %%
S_t = scores.error_norm(dyn)
windows = P.eva_windows()
picks = plots.representative_samples(S_t, windows)
fig = plots.trajectories_with_window_stats(
    S_t, picks, windows, labels.figure_title(S.dataset, P.name, "error score of five images")
)
plt.show()
stats_rows = [{"sample": name, "position": pos,
               **{f"{w} mean": float(S_t[a:b, pos].mean()) for w, (a, b) in windows.items()},
               **{f"{w} variance": float(S_t[a:b, pos].var()) for w, (a, b) in windows.items()}}
              for name, pos in picks.items()]  # fmt: skip
display(pd.DataFrame(stats_rows).round(3))

# %% [markdown]
# ## How the distribution of S moves over training
# The share of training images whose error score is above each value, at four epochs.
# Most images are learned early (their score drops to 0), so the vertical axis is
# logarithmic: it shows the minority that the windows are about.

# %%
epochs = sorted({0, dyn.num_epochs // 4, dyn.num_epochs // 2, dyn.num_epochs - 1})
long = pd.DataFrame({f"epoch {t}": S_t[t] for t in epochs}).melt(var_name="epoch", value_name="S")
fig, ax = plt.subplots(figsize=(8, 3.8))
sns.ecdfplot(long, x="S", hue="epoch", complementary=True, ax=ax, palette="viridis")
ax.set(yscale="log", ylim=(1 / (2 * dyn.num_samples), 1.05), xlim=(0, 1.45),
       xlabel="error score $S_t$ (0 … √2)", ylabel="share of images with a larger $S_t$",
       title=labels.figure_title(S.dataset, P.name, "how many images are still unlearned"))  # fmt: skip
sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
plt.show()

# %% [markdown]
# ## Window variance against window mean
# EVA ranks by the variance inside a window; EXP ranks by the mean. Each hexagon counts
# the training images with that mean and variance in the early window (colour on a log
# scale, so single images show); the curve is the largest variance a window of that
# mean can have. The printed rank correlation says how differently the two scores order
# the images.

# %%
early = windows["early"]
stats = scores.WindowStats.from_dynamics(dyn)
frame = pd.DataFrame(
    {"window mean of S": stats.mean(*early), "window variance of S": stats.var(*early)}
)
fig, ax = plt.subplots(figsize=(6.5, 4.5))
hb = ax.hexbin(frame["window mean of S"], frame["window variance of S"], gridsize=40,
               bins="log", cmap="viridis", mincnt=1)  # fmt: skip
fig.colorbar(hb, ax=ax, label="images (log scale)")
m = np.linspace(0, np.sqrt(2), 200)
ax.plot(m, m * (np.sqrt(2) - m), color="0.4", lw=1, ls="--",
        label="largest variance for that mean")  # fmt: skip
ax.set(xlabel="window mean of S", ylabel="window variance of S", xlim=(0, 1.45),
       title=labels.figure_title(S.dataset, P.name, f"early window {labels.fmt_window(early)}"))  # fmt: skip
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize="small", frameon=False)
plt.show()
print("Spearman rank correlation:", round(frame.corr(method="spearman").iloc[0, 1], 3))

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(Markdown(lessons.dynamics(pd.DataFrame(stats_rows), frame, windows)))
