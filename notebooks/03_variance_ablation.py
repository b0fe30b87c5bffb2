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
# # Variance against expectation (paper Fig. 3)
#
# The paper's Fig. 3 ablates EVA's score: the **mean** of the error score
# $S_t(i) = \lVert p_t(i) - y_i \rVert_2$ over a window (EXP) against its **variance**
# (VAR), each on a single window (EXP-S, VAR-S) and on the early + late pair (EXP-D,
# VAR-D = EVA as the paper writes it), across selection rates. It supports claim 3 of the
# paper: *variance beats expectation, in single and dual windows, most at low rates*
# (on OrganSMNIST the paper reports VAR-S at least 20 points above EXP-S). The figure's
# values are not published as numbers, so only this claim is compared here.
#
# Each arm runs with **its own windows, chosen on validation**: on a seed that is not
# reported (the profile's tuning seed), every window of the grid (EXP-S, VAR-S) and
# every ordered pair (EXP-D, VAR-D) is trained at the tuning rates, and per arm and rate
# the windows whose model ends with the best *validation* accuracy are kept (the window
# grid page shows that stage). The reported seeds then train the chosen arms, each with
# its own surrogate, under two budgets: the paper's (the full run's epochs) and a floor
# of optimiser steps that keeps small coresets from being starved. Both protocols come
# from the same runs: **paper** (best validation accuracy over the periodic
# evaluations) and **clean** (test accuracy of the final model).

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
from evalib.studies import ablations as ab
from evalib.studies import grids, labels

S = start(globals())
P = S.profile
display(
    Markdown(
        f"**Profile `{P.name}`** — {P.description}. Dataset "
        f"**{labels.dataset_title(S.dataset)}**, model "
        f"{labels.model_title(labels.model_label(P.model.name, P.model.width))}; surrogate "
        f"{P.surrogate_epochs} epochs, coreset models {P.epochs} epochs (the paper's budget) "
        f"or at least {P.min_steps} steps (the step floor); reported seeds "
        f"{', '.join(map(str, S.seeds))}, each with its own surrogate; windows tuned on seed "
        f"{P.tuning_seed} at rates {', '.join(labels.fmt_percent(r) for r in P.tune_rates)} "
        f"(windows of {P.window_len} epochs)."
    )
)

# %% [markdown]
# ## Windows chosen on validation
# Per arm (column) and rate (row), the windows (epochs, half-open) whose model reached the
# best final validation accuracy on the tuning seed. Training the tuning runs is part of
# this page when they are missing.

# %%
S.run(grids.jobs(grids.tuning(P, S.dataset)))
chosen = grids.chosen_windows(P, S.dataset, S.cache)
chosen.to_csv(S.out_dir() / "ablation_windows.csv", index=False)
display(chosen.assign(arm=chosen["arm"].map(labels.short))
        .pivot(index="rate", columns="arm", values="windows"))  # fmt: skip

# %% [markdown]
# ## Run (or read) every job
# The four arms on the reported seeds, with Random at the same rates and budgets and the
# full set (the Table 1 page's runs) as references.

# %%
planned = grids.ablation_page(P, S.dataset, S.cache, S.seeds)
S.run(grids.jobs(planned))
runs = grids.page_table(planned, S.cache)[0]
runs["arm"] = runs["method"].map(labels.short)
arms = runs.query("method not in ('random', 'full')")
table = arms.query("budget == 'epochs'")
jobs = runs.drop_duplicates("key")  # a job two arms share counts once
print(grids.cost_line(jobs, P, S.dataset, S.cache))

# %% [markdown]
# ## Accuracy per method and rate, both protocols
# Mean, std, number of seeds and 95 % t-interval half-width (accuracy in %), under the
# paper's budget; written, with the floor budget's rows, to `variance_ablation.csv`.

# %%
summary = ab.summarize_protocols(arms, by=("budget", "method", "arm", "rate"))
summary.to_csv(S.out_dir() / "variance_ablation.csv", index=False)
display(ab.wide(summary.query("budget == 'epochs'"), ["protocol", "rate"], "arm"))

# %%
long = ab.long_by_protocol(table)
order = [labels.short(m) for m in ("exp_s", "var_s", "exp_d", "var_d")]
reference = runs.query("budget == 'epochs'")
full = reference.query("method == 'full'")
fig = plots.ablation_bars(
    long,
    labels.figure_title(S.dataset, P.name, "expectation vs variance, single and dual windows"),
    order=order, random=ab.long_by_protocol(reference.query("method == 'random'")),
    full={labels.PROTOCOL_LABELS[p]: 100 * full[m].mean() for p, m in ab.PROTOCOLS.items()}
    if len(full) else None,
    protocols=list(labels.PROTOCOL_LABELS.values()),
)  # fmt: skip
plt.show()

# %% [markdown]
# Accuracy (%) of a model trained on the coreset, per selection rate (%), for the window
# mean (EXP) and the window variance (VAR), on one window (-S) and on a pair of windows
# (-D), each with the windows chosen for it on validation, under the paper's budget; each
# score has its colour in every figure of the book. Left: the paper's protocol (best
# validation accuracy over training); right: the clean protocol (test accuracy of the
# final model). Bars are means over seeds; error bars show one standard deviation, the
# spread of single runs (the differences below, and their verdicts, use 95 % t-intervals
# of the mean difference over seeds instead). The black
# dash across each rate is Random at that rate (mean over the same seeds), the reference
# a selection method must beat; the dotted line is the same network trained on the full
# training set.

# %% [markdown]
# ## VAR − EXP, per rate and budget
# Differences are paired by seed (same seed, same rate, same budget), in accuracy points;
# the interval is the 95 % t-interval's half-width of the mean difference (none with one
# seed).
# Written to `variance_minus_expectation.csv`. Claim 3 expects positive differences,
# largest at the lowest rates.

# %%
comparisons = {
    "VAR-S − EXP-S": ({"method": "var_s"}, {"method": "exp_s"}),
    "VAR-D − EXP-D": ({"method": "var_d"}, {"method": "exp_d"}),
}
diff = pd.concat([ab.paired_difference(arms, a, b, by=("budget", "rate"), name=n)
                  for n, (a, b) in comparisons.items()], ignore_index=True)  # fmt: skip
diff.to_csv(S.out_dir() / "variance_minus_expectation.csv", index=False)
display(ab.wide(diff, ["protocol", "budget", "rate"], "comparison", values="diff"))
display(
    Markdown(
        "Clean protocol (test split, final epoch), mean ± 95 % CI half-width, accuracy "
        "points:\n\n" + ab.describe_differences(diff, by=("budget", "rate"))
    )
)

# %%
per_seed = pd.concat([ab.paired_rows(table, a, b, name=n) for n, (a, b) in comparisons.items()],
                     ignore_index=True)  # fmt: skip
title = labels.figure_title(S.dataset, P.name, "variance minus expectation, paired by seed")
fig = plots.paired_bars(per_seed, title, "VAR − EXP (accuracy points)")
plt.show()

# %% [markdown]
# Seed-paired difference in accuracy points between the variance score and the
# expectation score (each on its own tuned windows), per selection rate (%), under the
# paper's budget, for a single window and for the pair; left the paper protocol, right
# the clean one. Bars are the mean over seeds; error bars the 95 % t-interval over the n
# seeds in each panel's title (none with a single seed), the interval of the table above
# and of the claims' verdicts. Bars above zero favour variance.

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(
    Markdown(
        lessons.ablation(
            table,
            diff.query("budget == 'epochs'"),
            reference.query("method == 'random'"),
            P.tune_rates,
        )
    )
)
