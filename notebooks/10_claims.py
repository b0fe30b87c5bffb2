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
# t-interval over seeds — and a verdict computed by `evalib.studies.claims` with the strict
# rules of `evalib.studies.stats`:
#
# - **holds**: the 95 % interval excludes 0 on the claimed side (for "matches or beats",
#   its lower end is above −1 point, the stated equivalence margin);
# - **contradicted**: the interval excludes 0 on the other side (for "matches or beats",
#   its upper end is below −1 point);
# - **inconclusive**: neither, or a single seed;
# - **not tested**: the runs needed are not in the results yet.
#
# A claim made for several rates or comparisons holds only when every part holds and is
# contradicted when any part is. Claim 1 is read twice: with EVA's windows tuned on the
# validation split of a seed that no reported run shares (the paper's procedure, done
# honestly) and with the only windows the official code publishes. Each claim is judged
# under both training budgets: the paper's (the full run's epochs) and a floor on
# optimiser steps.
#
# Nothing is trained here: the page reads the job results of `evalib.studies.grids`' studies
# (`results/<profile>/jobs/`) and says how many of the jobs it needs were available.

# %% tags=["parameters"]
from typing import Optional  # papermill reads the types: --help-notebook

profile: str = "smoke"  # smoke | cpu | paper
dataset: str = "organamnist"
data_root: Optional[str] = None  # folder with <flag>.npz; None: $EVALIB_DATA_ROOT or ~/.medmnist
results_dir: Optional[str] = None  # None: $EVALIB_RESULTS_DIR, else the checkout's results/
scratch_dir: Optional[str] = None  # dynamics and checkpoints; None: ~/.cache/evalib
seeds: Optional[list[int]] = None  # None: the profile's; -y "seeds: [0, 1]"
rates: Optional[list[float]] = None  # None: the profile's; -y "rates: [0.05, 0.1]"
executor: str = "serial"  # serial | process
workers: int = 2
ray_address: Optional[str] = None  # Ray cluster for the ray executor; None: a local instance
device: Optional[str] = None  # None: CUDA, else Apple MPS, else CPU; or "cpu", "cuda:1", "mps"
datasets: list[str] = ["organamnist", "bloodmnist"]  # a list: -y "datasets: [organsmnist]"

# %%
import pandas as pd
from IPython.display import Markdown, display

from evalib.book import plots
from evalib.book.notebook import start
from evalib.studies import claims, grids, labels, stats

plots.setup_style()  # the figure style, and tables as every results page shows them
S = start(globals(), extra=("datasets",))
P = S.profile
rows, coverage = [], []
for flag in datasets:
    table, missing = grids.claim_results(P, flag, S.cache)
    coverage.append({"dataset": flag, "jobs found": len(table), "missing": missing})
    if len(table):
        for metric in ("clean_test_acc", "paper_val_acc"):
            rows.append(claims.evaluate(table, flag, P.tune_rates, metric,
                                        surrogate_model=(P.model.name, P.model.width)))  # fmt: skip
display(Markdown(f"Profile **`{P.name}`**: {P.description}. Low rates: "
                 f"{labels.fmt_rates(P.tune_rates)}."))  # fmt: skip
display(pd.DataFrame(coverage))

# %%
results = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
results.to_csv(S.cache.results / "claims_comparisons.csv", index=False)
verdicts = claims.summary(results)
verdicts.to_csv(S.cache.results / "claims_verdicts.csv", index=False)

# %% [markdown]
# ## Verdicts per claim (clean protocol: test split, final epoch)
# Claims: (1) EVA beats Random at 2 % and 5 % (1p: with the published windows);
# (2a) Forgetting, Entropy, EL2N and AUM fall below Random at low rates; (2b) CCS does not
# beat Random at 5 %; (3) variance beats expectation in single and dual windows; (4) dual
# windows beat a single window; (5) on OrganAMNIST, EVA at 30 % matches the full set;
# (6) coresets transfer across architectures (EVA matches or beats Random on every model).

# %%
if len(verdicts):
    display(
        verdicts.query("protocol == 'clean'")
        .pivot(index="claim", columns=["dataset", "budget"], values="verdict")
        .reindex(columns=datasets, level=0)  # the datasets in the order listed
        .reindex(index=list(dict.fromkeys(verdicts["claim"])))  # the claims in the paper's order
        .fillna("—")  # claim 5 is about OrganAMNIST only
        .rename(
            columns=lambda c: labels.dataset_title(c) if c in datasets else labels.budget_label(c)
        )
    )

# %% [markdown]
# Why, in one sentence per claim, dataset and budget: how many of its comparisons hold,
# and the comparison that argues most against the claim (or, where it holds, the weakest
# one), with our difference, its 95 % interval, the number of seeds and the paper's
# difference where its Table 1 gives one.

# %%
if len(verdicts):
    with pd.option_context("display.max_colwidth", None):
        display(verdicts.query("protocol == 'clean'")[["dataset", "budget", "claim", "verdict",
                                                       "why"]].reset_index(drop=True)
                .assign(dataset=lambda t: t["dataset"].map(labels.dataset_title),
                        budget=lambda t: t["budget"].map(labels.budget_label)))  # fmt: skip

# %% [markdown]
# ## The comparisons behind them
# *Ours* is A − B in accuracy points (the mean over seeds of the paired differences) ±
# its 95 % t-interval half-width; *paper* is the same difference in the paper's Table 1
# (OrganAMNIST; "—" where the paper does not report it); *seeds* the number of pairs.

# %%
if len(results):
    with pd.option_context("display.max_rows", None):
        for flag, part in results.query("protocol == 'clean'").groupby("dataset", sort=False):
            display(Markdown(f"**{labels.dataset_title(flag)}**"))
            display(claims.comparison_table(part))

# %%
import matplotlib.pyplot as plt
import seaborn as sns

if len(results):
    clean = results.query("protocol == 'clean' and budget == 'epochs'").dropna(subset=["diff"])
    colours = {stats.HOLDS: "tab:green", stats.INCONCLUSIVE: "tab:orange",
               stats.CONTRADICTED: "tab:red", stats.UNTESTED: "0.6"}  # fmt: skip
    for flag, shown in clean.groupby("dataset", sort=False):  # one figure per dataset
        on = shown["model"].map(lambda m: f" on {labels.model_title(m)}"
                                if isinstance(m, str) and m else "")  # fmt: skip
        row = (shown["claim"].astype(str) + " · " + shown["part"].str.replace(" − full", " − full set")
               .map(labels.spell_out)
               .str.replace("EVA tuned", "EVA (tuned)").str.replace("EVA published",
               "EVA (published)") + on + " · " + shown["rate"].map(labels.fmt_percent))  # fmt: skip
        fig, ax = plt.subplots(figsize=(plots.MAX_WIDTH, 0.3 * len(shown) + 1.6))
        ax.barh(row, shown["diff"], xerr=shown["ci95"].fillna(0),
                color=[colours[v] for v in shown["verdict"]], capsize=2)  # fmt: skip
        ax.axvline(0, color="k", lw=0.8)
        ax.invert_yaxis()
        seeds = labels.fmt_list(sorted(shown["n_seeds"].astype(int).unique()))
        ax.set(xlabel=f"A − B, accuracy points (bars: 95 % t-interval over n = {seeds} seeds)",
               title=labels.figure_title(flag, P.name, "claims, clean protocol, paper's epochs"))  # fmt: skip
        fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()],
                   labels=list(colours), loc="lower center", ncol=len(colours), frameon=False)  # fmt: skip
        sns.despine(fig)
        fig.tight_layout(rect=(0, 0.9 / (0.3 * len(shown) + 1.6), 1, 1))  # labels inside the width
        plt.show()

# %% [markdown]
# Each bar is one comparison of the tables above under the paper's budget (the claim's
# number first), one figure per dataset; its colour is the comparison's verdict, its error
# bar the 95 % t-interval over seeds from which that verdict is read. Claim 2a's
# comparisons are expected to be negative (a baseline below Random).

# %% [markdown]
# ## The same comparisons under the paper's protocol
# (validation split, best over the periodic evaluations — what the official code reports)

# %%
if len(results):
    with pd.option_context("display.max_rows", None):
        for flag, part in results.query("protocol == 'paper'").groupby("dataset", sort=False):
            display(Markdown(f"**{labels.dataset_title(flag)}**"))
            display(claims.comparison_table(part))

# %% [markdown]
# ## Related systems
# The claims of the three related papers, as judged at the end of their own pages
# (notebooks 07–09 write `<dataset>/*_verdicts.csv`); listed here so that every verdict
# of the book is in one place.

# %%
related = [pd.read_csv(f).assign(page=labels.RELATED_PAGES.get(f.stem.split("_")[0], f.stem),
                                  dataset=labels.dataset_title(f.parent.name))
           for f in sorted(S.cache.results.glob("*/*_verdicts.csv"))]  # fmt: skip
if related:
    with pd.option_context("display.max_colwidth", None):
        display(pd.concat(related, ignore_index=True)[
            ["page", "dataset", "claim", "source", "ours", "verdict"]])  # fmt: skip
else:
    display(Markdown("No related-systems results at this profile yet."))

# %% [markdown]
# ## Compute spent on these results
# Wall-clock seconds of every run as recorded in its result file (each ran with one CPU
# thread, two at a time on the 2-core machine), summed per study of `evalib.studies.grids`, the
# surrogates first (one per seed, the tuning seed included). Jobs shared by two studies
# are counted in the first. The related systems (notebooks 07–09) add the rows they write
# to `<dataset>/*_compute.csv`. The estimate for missing jobs scales the median seconds per
# training image-epoch of the finished jobs of the same dataset and network
# (`evalib.runs.costs.estimate_seconds`); it is empty for a network with no finished job.

# %%
cost = grids.compute_table(P, datasets, S.cache)
for path in sorted(S.cache.results.glob("*/*_compute.csv")):  # notebooks 07-09
    for _, r in pd.read_csv(path).groupby("notebook", sort=False).sum(numeric_only=True).iterrows():
        cost.loc[len(cost)] = {"dataset": path.parent.name, "study": r.name,
                               "runs done": int(r["runs"]), "runs missing": 0,
                               "CPU-hours": float(r["CPU-hours"]), "CPU-hours to go (est.)": 0.0}  # fmt: skip
cost.to_csv(S.cache.results / "compute_cost.csv", index=False)
display(cost.round({"CPU-hours": 2, "CPU-hours to go (est.)": 2}))
to_go = cost["CPU-hours to go (est.)"]
n_missing = int(cost["runs missing"].sum())
display(Markdown(f"Total so far: **{cost['CPU-hours'].sum():.2f} CPU-hours** for "
                 f"{int(cost['runs done'].sum()):,} runs; "
                 + ("every run of this profile is done." if n_missing == 0 else
                    f"{n_missing:,} runs of this profile are not done yet, estimated at "
                    f"{to_go.sum():.1f} CPU-hours"
                    + (" for those whose network has a finished run to time from"
                       if to_go.isna().any() else "") + ".")))  # fmt: skip

# %% [markdown]
# ## Why claim 1 comes out as it does
# Could any window have changed the verdict? Every window and pair of the tuning grid
# against Random's worst reported seed (the best one *by test* is an upper bound no method
# could use); then what the tuned EVA coresets hold, class by class, against Random's
# (read from the committed coresets, nothing trained); then the class-balanced arms
# (companion checks 1cb and 1f, on the datasets where the profile runs them); and the comparisons whose two arms selected identical
# coresets.

# %%
from evalib.book import lessons
from evalib.studies import composition

robust, shares, class_acc, balance_rows = [], [], [], []
for flag in datasets:
    table, _ = grids.claim_results(P, flag, S.cache)
    low = composition.own_rows(table, P)
    if low.empty:
        continue
    robust.append(composition.grid_robustness(grids.tuning_table(P, flag, S.cache)[0], low)
                  .assign(dataset=flag))  # fmt: skip
    sh, acc = composition.coreset_table(P, flag, S.cache, low, S.data_root)
    shares.append(sh)
    class_acc.append(acc)
    balance_rows.append(low)
robust = pd.concat(robust, ignore_index=True) if robust else pd.DataFrame()
shares = pd.concat(shares, ignore_index=True) if shares else pd.DataFrame()
class_acc = pd.concat(class_acc, ignore_index=True) if class_acc else pd.DataFrame()
display(Markdown(lessons.grid_verdict(robust)))
display(Markdown(lessons.grid_robustness(robust, P.tuning_seed)))

# %%
share_sum = composition.share_summary(shares)
for flag, part in share_sum.groupby("dataset", sort=False):
    fig = plots.coreset_class_shares(
        part, labels.figure_title(flag, P.name, "share of each class in the coresets")
    )
    plt.show()

# %% [markdown]
# Share of each class (y axis) in the coresets of Random and of EVA with tuned and with the
# published windows, in % (marker: mean over the reported seeds; bar: min–max), one panel
# per low rate; the black tick is the class's share of the training split.

# %% tags=["remove-input"]
acc_sum = composition.accuracy_summary(class_acc)
display(Markdown(lessons.coreset_classes(share_sum, composition.top_classes_share(shares),
                                         acc_sum, rates=P.tune_rates)))  # fmt: skip
for flag, part in pd.concat(balance_rows).groupby("dataset", sort=False) if balance_rows else []:
    if not grids.runs_balance(P, flag):
        continue  # this profile does not run the class-balance arms on this dataset
    display(Markdown(f"**Class balance on {labels.dataset_title(flag)}**"))
    if not P.balance_own_tuning:
        display(Markdown("Class-balanced EVA runs here on EVA's own validation-chosen pair; "
                         "this profile does not tune it on a grid of its own"
                         + ("." if P.balance_floor else
                            ", and runs both arms under the paper's epochs only.")))  # fmt: skip
    display(Markdown(lessons.class_balance(part, P.tune_rates)))
if len(results) and lessons.identical_arms(results.query("protocol == 'clean'")):
    display(Markdown(lessons.identical_arms(results.query("protocol == 'clean'"))))

# %% [markdown]
# ## The paper's regime: a 200-epoch surrogate
# Claims 1, 1p and 4 (and, on OrganAMNIST, the class-balance check 1cb) judged under both
# CPU profiles: the `cpu` profile's 40-epoch surrogate with windows of 5 epochs (28 pairs),
# and `cpu200`, the paper's 200-epoch surrogate with its grid of windows of 10 epochs (190
# pairs) and the published windows as published; every other setting is the same, except
# that under `cpu200` class-balanced EVA takes EVA's chosen pair instead of tuning its own
# (so a change in 1cb may come from that choice as well as from the regime). Each
# profile's claims page writes the comparisons read here; only the parts judged under both
# are shown, one figure per dataset with a panel per budget (clean protocol, 95 %
# t-intervals over seeds).

# %%
from evalib.book.lessons.regime import regime
from evalib.book.plots import regime as regime_plots
from evalib.studies import profiles

REGIME = list(profiles.REGIME_PROFILES)
compared = {q: (pd.read_csv(f) if (f := S.cache.results.parent / q / "claims_comparisons.csv")
                .exists() else pd.DataFrame()) for q in REGIME}  # fmt: skip
side = profiles.side_by_side(compared)
changes = profiles.verdict_changes(side, REGIME)
changes.to_csv(S.cache.results / "regime_verdicts.csv", index=False)
for flag, part in side.groupby("dataset", sort=False) if len(side) else []:
    fig = regime_plots.profile_differences(
        part, REGIME, f"{labels.dataset_title(flag)} · claims under both profiles"
    )
    plt.show()
display(Markdown(regime(side, changes, REGIME)))

# %% [markdown]
# What the tuned EVA coresets hold under each profile: the share of each class (read from
# the committed coresets, nothing trained) beside Random's and the training split's.

# %%
from evalib.runs.cache import Cache
from evalib.runs.config import get_profile

share_by = {flag: {P.name: part} for flag, part in share_sum.groupby("dataset", sort=False)}
for q in (q for q in REGIME if q != P.name):  # this page's own shares are computed above
    Pq, cache_q = get_profile(q), Cache.at(S.cache.results.parent / q, S.cache.scratch)
    for flag in datasets:
        low_q = composition.own_rows(grids.claim_results(Pq, flag, cache_q)[0], Pq)
        if len(low_q):
            sh_q = composition.coreset_table(Pq, flag, cache_q, low_q, S.data_root)[0]
            share_by.setdefault(flag, {})[q] = composition.share_summary(sh_q)
for flag, by in share_by.items():
    in_order = {q: by[q] for q in REGIME if q in by}
    both = profiles.shares_by_profile(in_order) if len(in_order) == len(REGIME) else pd.DataFrame()
    if len(both):
        fig = regime_plots.class_shares(both, REGIME, f"{labels.dataset_title(flag)} · "
                                        "class shares of the tuned EVA coresets, both profiles")  # fmt: skip
        plt.show()

# %% [markdown]
# ## What this shows

# %% tags=["remove-input"]
from evalib.book import lessons

display(Markdown(lessons.claims_summary(verdicts, results, pd.DataFrame(coverage))))
