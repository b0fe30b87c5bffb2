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
# # The paper's claims, checked
#
# For each claim of the paper, this page puts the paper's number next to ours — the
# mean seed-paired difference in accuracy points, its standard deviation and 95 %
# t-interval over seeds — and a verdict computed by `evalib.claims`:
#
# - **holds**: the difference has the claimed sign and its 95 % interval excludes 0;
# - **partly**: the sign is right but the interval includes 0, or only one seed exists
#   (or, for a claim made of several comparisons, some hold and some do not);
# - **does not hold**: the difference has the wrong sign;
# - **not tested**: the runs needed are not in the results yet.
#
# Nothing is trained here: the page reads the job results that notebooks 02–06 wrote
# (`results/<profile>/jobs/`) and says how many of the jobs it needs were available.

# %% tags=["parameters"]
profile = "smoke"  # smoke | cpu | paper
dataset = "organamnist"
data_root = None  # folder with <flag>.npz; None: $EVALIB_DATA_ROOT or ~/.medmnist
results_dir = None  # job results: <results_dir>/<profile>/jobs/*.json; None: the checkout's
#   results/ (committed), or $EVALIB_RESULTS_DIR, whatever the working directory
scratch_dir = None  # dynamics and checkpoints; None: ~/.cache/evalib
seeds = None  # None: the profile's seeds
rates = None  # None: the profile's rates
executor = "serial"  # serial | process
workers = 2
ray_address = None  # Ray cluster for the ray executor; None: a local instance
device = None  # None: CUDA if usable, else Apple MPS, else CPU; or "cpu", "cuda:1", "mps"
datasets = ["organamnist", "bloodmnist"]

# %%
import pandas as pd
from IPython.display import Markdown, display

from evalib import claims
from evalib import experiments as ex
from evalib.reproduce import GRIDS, grid_jobs

S = ex.notebook_setup(profile, dataset, results_dir, data_root, scratch_dir, seeds, rates,
                      executor, workers, ray_address, device, extra={"datasets": datasets})  # fmt: skip
P = S.profile
low = [r for r in S.rates if r <= 0.05] or list(S.rates[:1])
pd.options.display.float_format = "{:.2f}".format


def jobs_for(flag: str) -> tuple[list, list]:
    """The jobs of notebooks 02 + 03, and of 06, as those notebooks run them."""
    main = grid_jobs("table1", P, flag) + grid_jobs("variance", P, flag)
    return main, grid_jobs("cross", P, flag)


rows, transfers, coverage = [], [], []
for flag in datasets:
    main_jobs, cross_jobs = jobs_for(flag)
    table, missing = ex.collect(main_jobs, S.cache)
    cross_table, cross_missing = ex.collect(cross_jobs, S.cache)
    coverage.append({"dataset": flag, "jobs needed": len(set(main_jobs) | set(cross_jobs)),
                     "missing": len(set(missing) | set(cross_missing))})  # fmt: skip
    if len(table):
        for metric in ("clean_test_acc", "paper_val_acc"):
            rows.append(claims.evaluate(table, flag, low, metric))
    if len(cross_table):
        transfers.append(
            claims.transfer(cross_table, flag, surrogate=(P.model.name, P.model.width))
        )
display(Markdown(f"Profile **`{P.name}`** ({P.description}); low rates tested: "
                 f"{[f'{r:.0%}' for r in low]}."))  # fmt: skip
display(pd.DataFrame(coverage))

# %%
results = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
transfer = pd.concat(transfers, ignore_index=True) if transfers else pd.DataFrame()
results.to_csv(S.cache.results / "claims_comparisons.csv", index=False)
transfer.to_csv(S.cache.results / "claims_transfer.csv", index=False)
verdicts = claims.summary(pd.concat([results, transfer.assign(protocol="clean")]))
verdicts.to_csv(S.cache.results / "claims_verdicts.csv", index=False)

# %% [markdown]
# ## Verdicts per claim (clean protocol: test split, final epoch)
# Claims: (1) EVA beats Random at 2 % and 5 %; (2) Forgetting, Entropy, EL2N and AUM
# fall below Random at low rates and no baseline beats Random at 5 %; (3) variance beats
# expectation in single and dual windows; (4) dual windows beat a single window;
# (5) on OrganAMNIST, EVA at 30 % matches the full set; (6) coresets transfer across
# architectures (EVA ≥ Random on every model).

# %%
display(
    verdicts.query("protocol == 'clean'")
    .pivot(index="claim", columns="dataset", values="verdict")
    .fillna("—")  # claim 5 is about OrganAMNIST only
)

# %% [markdown]
# Why, in one sentence per claim and dataset: how many of its comparisons hold, and the
# comparison that argues most against the claim (or, where it holds, the weakest one),
# with our difference, its 95 % interval, the number of seeds and the paper's
# difference where its Table 1 gives one.

# %%
with pd.option_context("display.max_colwidth", None):
    display(verdicts.query("protocol == 'clean'")[["dataset", "claim", "verdict", "why"]]
            .style.hide(axis="index"))  # fmt: skip

# %% [markdown]
# ## The comparisons behind them
# `diff` is ours (A − B, accuracy points, mean over seeds of the paired differences);
# `paper` is the same difference in the paper's Table 1 (OrganAMNIST; NaN where the
# paper does not report it).

# %%
if len(results):
    clean = results.query("protocol == 'clean'")
    display(clean[["dataset", "claim", "comparison", "rate", "paper", "diff", "std", "ci95",
                   "n_seeds", "verdict"]])  # fmt: skip

# %%
import matplotlib.pyplot as plt
import seaborn as sns

if len(results):
    shown = results.query("protocol == 'clean'").dropna(subset=["diff"]).copy()
    shown["row"] = (shown["dataset"] + " · " + shown["comparison"] + " · "
                    + (100 * shown["rate"]).map("{:g} %".format))  # fmt: skip
    colours = {claims.HOLDS: "tab:green", claims.PARTLY: "tab:orange",
               claims.FAILS: "tab:red", claims.UNTESTED: "0.6"}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(shown) + 1.2))
    ax.barh(shown["row"], shown["diff"], xerr=shown["ci95"].fillna(0),
            color=[colours[v] for v in shown["verdict"]], capsize=2)  # fmt: skip
    ax.axvline(0, color="k", lw=0.8)
    ax.invert_yaxis()
    ax.set(xlabel="A − B, accuracy points (clean protocol; bars: 95 % CI over seeds)",
           title=f"claims 1–5 · {P.name} profile")  # fmt: skip
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()],
              labels=list(colours), loc="lower right", fontsize="small")  # fmt: skip
    sns.despine(fig)

# %% [markdown]
# Each bar is one comparison of the table above; its colour is the verdict. Claim 2's
# comparisons are expected to be negative (a baseline below Random).

# %% [markdown]
# ## Claim 6: transfer across architectures (EVA − Random per coreset model)

# %%
if len(transfer):
    display(transfer)

# %% [markdown]
# ## The same comparisons under the paper's protocol
# (validation split, best over the periodic evaluations — what the official code reports)

# %%
if len(results):
    display(results.query("protocol == 'paper'")[["dataset", "claim", "comparison", "rate",
                                                   "diff", "ci95", "n_seeds", "verdict"]])  # fmt: skip

# %% [markdown]
# ## Related systems
# The claims of the three related papers, as judged at the end of their own pages
# (notebooks 07–09 write `<dataset>/*_verdicts.csv`); listed here so that every verdict
# of the book is in one place.

# %%
related = [pd.read_csv(f).assign(page=f.stem.split("_")[0], dataset=f.parent.name)
           for f in sorted(S.cache.results.glob("*/*_verdicts.csv"))]  # fmt: skip
if related:
    with pd.option_context("display.max_colwidth", None):
        display(pd.concat(related, ignore_index=True)[
            ["page", "dataset", "claim", "source", "ours", "verdict"]].style.hide(axis="index"))  # fmt: skip
else:
    display(Markdown("No related-systems results at this profile yet."))

# %% [markdown]
# ## Compute spent on these results
# Wall-clock seconds of every job as recorded in its result file (each job ran with one
# CPU thread, two jobs at a time on the 2-core machine), summed per notebook, plus the
# surrogate runs. Jobs shared by two notebooks are counted in the first. The related
# systems (notebooks 07–09) add the rows they write to `<dataset>/*_compute.csv`. The
# estimate for missing jobs scales the median seconds per training image-epoch of the
# finished jobs of the same dataset and network (`evalib.experiments.estimate_seconds`);
# it is empty for a network with no finished job.

# %%
seen, cost = set(), []
timed = ex.collect([j for f in datasets for w in GRIDS for j in grid_jobs(w, P, f)], S.cache)[0]
for flag in datasets:
    rec = ex.surrogate_record(
        ex.SurrogateConfig(P.data_spec(flag), P.model, P.recipe, P.seeds[0]), S.cache
    )
    if rec is not None:
        cost.append({"dataset": flag, "notebook": "surrogate", "jobs done": 1, "jobs missing": 0,
                     "CPU-hours": rec["seconds"] / 3600, "CPU-hours to go (est.)": 0.0})  # fmt: skip
    for what, name in GRIDS.items():
        jobs = [j for j in dict.fromkeys(grid_jobs(what, P, flag)) if j not in seen]
        seen.update(jobs)
        done, missing = ex.collect(jobs, S.cache)
        hours = done["seconds"].sum() / 3600 if len(done) else 0.0
        cost.append({"dataset": flag, "notebook": name, "jobs done": len(done),
                     "jobs missing": len(missing), "CPU-hours": hours,
                     "CPU-hours to go (est.)": ex.estimate_seconds(timed, missing) / 3600})  # fmt: skip
for path in sorted(S.cache.results.glob("*/*_compute.csv")):  # notebooks 07-09
    for _, r in pd.read_csv(path).groupby("notebook", sort=False).sum(numeric_only=True).iterrows():
        cost.append({"dataset": path.parent.name, "notebook": r.name, "jobs done": int(r["runs"]),
                     "jobs missing": 0, "CPU-hours": float(r["CPU-hours"]),
                     "CPU-hours to go (est.)": 0.0})  # fmt: skip
cost = pd.DataFrame(cost)
cost.to_csv(S.cache.results / "compute_cost.csv", index=False)
display(cost)
to_go = cost["CPU-hours to go (est.)"]
display(Markdown(f"Total so far: **{cost['CPU-hours'].sum():.2f} CPU-hours** for "
                 f"{int(cost['jobs done'].sum())} runs; {int(cost['jobs missing'].sum())} "
                 f"runs of this profile are not done yet, estimated at "
                 f"{to_go.sum():.1f} CPU-hours"
                 + (" for those whose network has a finished run to time from"
                    if to_go.isna().any() else "") + "."))  # fmt: skip

# %% [markdown]
# ## What this shows
# The verdict tables are computed, not written: they change when the results change.
# A verdict at a reduced profile says whether the *direction* of a claim survives on a
# smaller network and budget; it does not test the paper's exact numbers.
