"""Every study's job list: the one place that notebooks, ``reproduce``, ``evalib grid``
and the claims page read.

A study is a list of :class:`Planned` jobs, each with the *arm* it belongs to (what a
table or figure calls it) and its training *budget* ("epochs": the paper's, the same
epochs as the full run; "floor": at least ``Profile.min_steps`` optimiser steps).

The fair test of the paper's claims runs in two stages:

1. :func:`tuning`: on the profile's ``tuning_seed`` (its own surrogate and its own
   training), every window of the grid for the single-window arms (EXP-S, VAR-S) and
   every ordered pair for the dual-window arms (EXP-D, and EVA = VAR-D), at the
   ``tune_rates``, under the paper's budget.
2. :func:`choose_windows` picks, per arm and rate, the windows with the best
   **validation** accuracy of the final model; the chosen arms are then trained on the
   reported ``seeds``, which took no part in the choice (:func:`table1`,
   :func:`ablation`). A rate without a tuning run takes the windows chosen at the
   nearest tuned rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from evalib import experiments as ex
from evalib.labels import fmt_pair, fmt_window

Window = tuple[int, int]
#: Arms whose windows are tuned, with the score method each one runs.
TUNED_ARMS = {"eva": "eva", "exp_s": "exp_s", "var_s": "var_s", "exp_d": "exp_d"}
#: Table 1's methods with fixed parameters (EVA with the published windows is added).
FIXED_METHODS = ("random", "forgetting", "entropy", "el2n", "aum", "ccs")
BUDGETS = ("epochs", "floor")


@dataclass(frozen=True)
class Planned:
    """A job and what it is for: ``arm`` (e.g. "random", "eva_published", "eva_tuned",
    "grid") and ``budget`` ("epochs" or "floor")."""

    arm: str
    budget: str
    job: ex.Job


# ----------------------------------------------------------------------------- helpers


def grid_pairs(windows: Sequence[Window]) -> list[tuple[Window, Window]]:
    """Every ordered pair of non-overlapping windows (early ends before late starts)."""
    ws = sorted(set(windows))
    return [(e, lt) for e in ws for lt in ws if e[1] <= lt[0]]


def _params(arm: str, windows: Window | tuple[Window, Window]) -> dict[str, Any]:
    if arm in ("exp_s", "var_s"):
        return {"window": tuple(windows)}
    early, late = windows
    return {"early": tuple(early), "late": tuple(late)}


def _job(profile: ex.Profile, dataset: str, method: str, params: Mapping[str, Any],
         rate: float, seed: int, budget: str, model: ex.ModelSpec | None = None) -> ex.Job:  # fmt: skip
    sel = ex.SelectionSpec.make(method, rate, **dict(params))
    surrogate = profile.surrogate_config(dataset, seed)  # random ignores it (as benchmark_jobs)
    floor = profile.min_steps if budget == "floor" else 0
    return ex.Job(
        profile.data_spec(dataset),
        sel,
        surrogate,
        model or profile.model,
        profile.recipe,
        seed,
        min_steps=floor,
    )


def _budgets(profile: ex.Profile, rate: float) -> tuple[str, ...]:
    floor = profile.min_steps > 0 and any(math.isclose(rate, r) for r in profile.floor_rates)
    return BUDGETS if floor else ("epochs",)


def full_jobs(
    profile: ex.Profile, dataset: str, seeds: Sequence[int] | None = None
) -> list[Planned]:
    """The full training set, one job per seed."""
    data = profile.data_spec(dataset)
    return [
        Planned("full", "epochs", ex.Job(data, None, None, profile.model, profile.recipe, s))
        for s in (profile.seeds if seeds is None else seeds)
    ]


# ----------------------------------------------------------------------------- stage 1


def tuning(profile: ex.Profile, dataset: str) -> list[Planned]:
    """Every window (single arms) and pair (dual arms) at the tuning rates, on the tuning
    seed, under the paper's budget; arm = "tune:<arm>"."""
    windows = profile.grid_windows()
    pairs = grid_pairs(windows)
    out = []
    for rate in profile.tune_rates:
        for arm, method in TUNED_ARMS.items():
            options = windows if arm in ("exp_s", "var_s") else pairs
            for w in options:
                job = _job(profile, dataset, method, _params(arm, w), rate, profile.tuning_seed,
                           "epochs")  # fmt: skip
                out.append(Planned(f"tune:{arm}", "epochs", job))
    return out


def window_label(params: Mapping[str, Any]) -> str:
    """ "[a, b)" or "[a, b) + [c, d)" from a job's window parameters."""
    if "window" in params:
        return fmt_window(params["window"])
    return fmt_pair(params["early"], params["late"])


def tuning_table(profile: ex.Profile, dataset: str, cache: ex.Cache) -> tuple[pd.DataFrame, int]:
    """Results of the tuning jobs found in ``cache`` (arm, rate, windows, accuracies) and
    how many are still missing."""
    planned = tuning(profile, dataset)
    rows, missing = [], 0
    for p in planned:
        res = cache.job_result(p.job)
        if res is None:
            missing += 1
            continue
        params = p.job.selection.param_dict()
        rows.append({
            "arm": p.arm.split(":", 1)[1], "rate": p.job.rate, "windows": window_label(params),
            "params": params, "final_val_acc": res["final_val_acc"],
            "clean_test_acc": res["clean_test_acc"], "paper_val_acc": res["paper_val_acc"],
        })  # fmt: skip
    return pd.DataFrame(rows), missing


def choose_windows(table: pd.DataFrame) -> dict[tuple[str, float], dict[str, Any]]:
    """Per (arm, rate) of a :func:`tuning_table`, the parameters with the highest final
    validation accuracy (ties: the earliest windows, as listed)."""
    chosen = {}
    for (arm, rate), group in table.groupby(["arm", "rate"], sort=False):
        best = group.loc[group["final_val_acc"].idxmax()]
        chosen[(str(arm), float(rate))] = dict(best["params"])
    return chosen


def tuned_params(
    profile: ex.Profile, dataset: str, cache: ex.Cache
) -> dict[tuple[str, float], dict[str, Any]] | None:
    """Chosen windows per (arm, rate) for every rate of the profile (a rate without a
    tuning run takes the nearest tuned rate's choice, on a log scale); None until every
    tuning job is done."""
    table, missing = tuning_table(profile, dataset, cache)
    if missing or table.empty:
        return None
    chosen = choose_windows(table)
    out = {}
    for arm in TUNED_ARMS:
        for rate in sorted({*profile.rates, *profile.tune_rates}):
            near = min(profile.tune_rates, key=lambda r: abs(math.log(r / rate)))
            out[(arm, float(rate))] = chosen[(arm, float(near))]
    return out


# ----------------------------------------------------------------------------- stage 2


def table1(profile: ex.Profile, dataset: str, cache: ex.Cache | None = None,
           seeds: Sequence[int] | None = None, rates: Sequence[float] | None = None) -> list[Planned]:  # fmt: skip
    """Table 1: the full set, the fixed methods and EVA with the published windows at
    every rate and seed, both budgets at the floor rates; EVA with tuned windows once
    the tuning stage is done (``cache`` given)."""
    seeds = tuple(profile.seeds if seeds is None else seeds)
    rates = tuple(profile.rates if rates is None else rates)
    methods = [(m, dict(p)) for m, p in profile.table1_methods() if m in FIXED_METHODS]
    methods.append(("eva_published", dict(profile.eva_windows())))
    tuned = None if cache is None else tuned_params(profile, dataset, cache)
    out = full_jobs(profile, dataset, seeds)
    for seed in seeds:
        for rate in rates:
            for budget in _budgets(profile, rate):
                for arm, params in methods:
                    method = "eva" if arm == "eva_published" else arm
                    out.append(Planned(arm, budget,
                                       _job(profile, dataset, method, params, rate, seed, budget)))  # fmt: skip
                if tuned is not None:
                    job = _job(
                        profile, dataset, "eva", tuned[("eva", float(rate))], rate, seed, budget
                    )
                    out.append(Planned("eva_tuned", budget, job))
    return out


def ablation(profile: ex.Profile, dataset: str, cache: ex.Cache,
             seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The variance ablation (claims 3 and 4): EXP-S, VAR-S, EXP-D and VAR-D (= EVA), each
    with its own tuned windows, at the tuning rates, on the reported seeds, both budgets.
    Empty until the tuning stage is done."""
    tuned = tuned_params(profile, dataset, cache)
    if tuned is None:
        return []
    out = []
    for seed in profile.seeds if seeds is None else seeds:
        for rate in profile.tune_rates:
            for budget in _budgets(profile, rate):
                for arm, method in TUNED_ARMS.items():
                    job = _job(
                        profile, dataset, method, tuned[(arm, float(rate))], rate, seed, budget
                    )
                    out.append(Planned("var_d" if arm == "eva" else arm, budget, job))
    return out


def dual(profile: ex.Profile, dataset: str, seeds: Sequence[int] | None = None) -> list[Planned]:
    """The official code's EVA (normalised, weighted windows) beside the paper's formula,
    on the published windows, at the tuning rates and 30 %, on the reported seeds."""
    rates = tuple(dict.fromkeys((*profile.tune_rates, max(profile.rates))))
    out = []
    for seed in profile.seeds if seeds is None else seeds:
        for rate in rates:
            params = dict(profile.eva_windows())
            out.append(Planned("eva_official", "epochs",
                               _job(profile, dataset, "eva_official", params, rate, seed, "epochs")))  # fmt: skip
            out.append(Planned("eva_published", "epochs",
                               _job(profile, dataset, "eva", params, rate, seed, "epochs")))  # fmt: skip
    return out


def cross(profile: ex.Profile, dataset: str, cache: ex.Cache,
          rates: Sequence[float] = (0.05, 0.30)) -> list[Planned]:  # fmt: skip
    """Claim 6: coresets chosen on the profile's surrogate (Random and tuned EVA), trained
    on each of the profile's ``cross_models``, on its ``cross_seeds``. Empty until the
    tuning stage is done."""
    tuned = tuned_params(profile, dataset, cache)
    if tuned is None:
        return []
    out = []
    for model in profile.cross_models:
        for seed in profile.cross_seeds:
            for rate in rates:
                out.append(Planned("random", "epochs",
                                   _job(profile, dataset, "random", {}, rate, seed, "epochs", model)))  # fmt: skip
                params = tuned[("eva", float(rate))]
                out.append(Planned("eva_tuned", "epochs",
                                   _job(profile, dataset, "eva", params, rate, seed, "epochs", model)))  # fmt: skip
    return out


STUDIES = ("tuning", "table1", "ablation", "dual", "cross", "pie", "distill", "segmentation")


def study(name: str, profile: ex.Profile, dataset: str, cache: ex.Cache) -> list[Planned]:
    """The planned jobs (and study tasks) of study ``name`` (one of :data:`STUDIES`);
    a study with stages returns what can be declared with the results in ``cache``."""
    if name == "tuning":
        return tuning(profile, dataset)
    if name == "table1":
        return table1(profile, dataset, cache)
    if name == "ablation":
        return ablation(profile, dataset, cache)
    if name == "dual":
        return dual(profile, dataset)
    if name == "cross":
        return cross(profile, dataset, cache)
    if name == "pie":  # the trainings join once the pruned networks' rows are in
        prune = [Planned(t.kind, "", t) for t in pie_prune(profile, dataset)]
        return prune + pie_trainings(profile, dataset, cache)
    if name == "distill":
        return [Planned(t.kind, "", t) for t in distill(profile, (dataset,))]
    if name == "segmentation":
        tasks = [seg_scoring(profile, dataset), *segmentation(profile, dataset)]
        return [Planned(t.kind, "", t) for t in tasks] + [
            Planned(j.method, "epochs", j) for j in dad_classification(profile, dataset)
        ]
    raise ex.EvalibError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")


def labelled_results(planned: Sequence[Planned], cache: ex.Cache) -> tuple[pd.DataFrame, int]:
    """One row per planned job found in ``cache`` (its result with ``arm`` and ``budget``
    columns) and how many planned jobs are missing."""
    rows, missing = [], 0
    for p in planned:
        res = cache.job_result(p.job)
        if res is None:
            missing += 1
            continue
        row = {k: v for k, v in res.items() if k not in ("history", "config")}
        rows.append({**row, "arm": p.arm, "budget": p.budget})
    return pd.DataFrame(rows), missing


# ----------------------------------------------------------------------------- pages


def jobs(planned: Sequence[Planned]) -> list[ex.Job]:
    """The jobs of ``planned``, each once, in order."""
    return list(dict.fromkeys(p.job for p in planned))


def _references(profile: ex.Profile, dataset: str, seeds: Sequence[int] | None,
                rates: Sequence[float], arms: Sequence[str]) -> list[Planned]:  # fmt: skip
    """Table 1's runs of ``arms`` (e.g. Random, the full set) at ``rates`` on ``seeds``."""
    return [p for p in table1(profile, dataset, None, seeds, rates) if p.arm in arms]


def ablation_page(profile: ex.Profile, dataset: str, cache: ex.Cache,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The variance ablation and dual-window pages: the four tuned arms (:func:`ablation`),
    with Random at the same rates and budgets and the full set (Table 1's runs) as
    references. Empty arms until the tuning stage is done."""
    refs = _references(profile, dataset, seeds, profile.tune_rates, ("random", "full"))
    return ablation(profile, dataset, cache, seeds) + refs


def cross_page(profile: ex.Profile, dataset: str, cache: ex.Cache,
               rates: Sequence[float] = (0.05, 0.30)) -> list[Planned]:  # fmt: skip
    """The cross-architecture page: :func:`cross`, and the same arms on the surrogate's own
    network (Table 1's runs on the cross seeds) with its full-set runs."""
    if tuned_params(profile, dataset, cache) is None:
        return []
    own = [p for p in table1(profile, dataset, cache, profile.cross_seeds, rates)
           if p.arm in ("random", "eva_tuned", "full") and p.budget == "epochs"]  # fmt: skip
    return own + cross(profile, dataset, cache, rates)


def _windows_text(job: ex.Job) -> str:
    params = job.selection.param_dict() if job.selection is not None else {}
    return window_label(params) if "window" in params or {"early", "late"} <= params.keys() else ""


def page_table(planned: Sequence[Planned], cache: ex.Cache) -> tuple[pd.DataFrame, int]:
    """:func:`labelled_results` for a page: ``method`` is the arm (so tuned and published
    EVA, or VAR-D and EVA, stay apart), ``windows`` the window text ("" without windows),
    and how many planned jobs are missing."""
    table, missing = labelled_results(planned, cache)
    if table.empty:
        return table, missing
    windows = {p.job.key(): _windows_text(p.job) for p in planned}
    table = table.assign(method=table["arm"], windows=table["key"].map(windows))
    return table, missing


def coreset_jaccard(table: pd.DataFrame, cache: ex.Cache, a: str, b: str,
                    by: Sequence[str] = ("budget", "rate", "seed")) -> pd.DataFrame:  # fmt: skip
    """Jaccard index of the coresets that arms ``a`` and ``b`` trained on, per ``by`` cell
    of a :func:`page_table` (read from the stored selections; columns ``*by, jaccard``)."""
    ids: dict[str, Any] = {}

    def chosen(dataset: str, digest: str):
        if digest not in ids:
            ids[digest] = set(ex.load_selection(cache, dataset, digest).tolist())
        return ids[digest]

    rows = []
    cells = table[table["method"].isin((a, b))].groupby(list(by), sort=True)
    for key, cell in cells:
        digests = cell.drop_duplicates("method").set_index("method")
        if not {a, b} <= set(digests.index):
            continue
        sa = chosen(str(digests.at[a, "dataset"]), str(digests.at[a, "indices_sha256"]))
        sb = chosen(str(digests.at[b, "dataset"]), str(digests.at[b, "indices_sha256"]))
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, keys, strict=True)),
                     "jaccard": len(sa & sb) / max(1, len(sa | sb))})  # fmt: skip
    return pd.DataFrame(rows, columns=[*by, "jaccard"])


def chosen_windows(profile: ex.Profile, dataset: str, cache: ex.Cache) -> pd.DataFrame:
    """Per tuned arm and tuning rate, the windows chosen on validation (empty until the
    tuning stage is done)."""
    tuned = tuned_params(profile, dataset, cache)
    if tuned is None:
        return pd.DataFrame(columns=["arm", "rate", "windows"])
    rows = [{"arm": "var_d" if arm == "eva" else arm, "rate": rate,
             "windows": window_label(tuned[(arm, float(rate))])}
            for rate in profile.tune_rates for arm in TUNED_ARMS]  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- your own coreset


def given_coreset(profile: ex.Profile, dataset: str, cache: ex.Cache, chosen_ids,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """A user's coreset (sample ids into the training split) under the profile's protocol:
    arm "yours" on every seed, beside Random of the same size drawn per seed, both budgets
    where the profile has a floor. The selection is stored in ``cache`` by its digest;
    committed Random and EVA rows at a profile rate of the same size are found by
    :func:`same_size_rows`."""
    from evalib.data import dataset_info

    n_total = dataset_info(dataset).n_samples[0]
    data = profile.data_spec(dataset)
    digest = ex.save_selection(cache, dataset, chosen_ids, n_total)
    size = len(ex.load_selection(cache, dataset, digest))
    rate = size / min(n_total, data.train_subset or n_total)
    floor = profile.min_steps > 0
    out = []
    for seed in profile.seeds if seeds is None else seeds:
        for budget in BUDGETS if floor else ("epochs",):
            steps = profile.min_steps if budget == "floor" else 0
            yours = ex.SelectionSpec.make("given", rate, digest=digest, rounding="floor")
            rnd = ex.SelectionSpec.make("random", rate, rounding="floor")
            for arm, sel in (("yours", yours), ("random", rnd)):
                job = ex.Job(data, sel, None, profile.model, profile.recipe, seed, min_steps=steps)
                out.append(Planned(arm, budget, job))
    return out


def same_size_rows(profile: ex.Profile, dataset: str, cache: ex.Cache, size: int) -> pd.DataFrame:
    """Committed Table 1 rows (every arm, both budgets) at the profile rate whose coreset has
    ``size`` samples; empty when no profile rate gives that size."""
    from evalib.data import dataset_info
    from evalib.select import budget

    n_total = dataset_info(dataset).n_samples[0]
    rates = [r for r in profile.rates if budget(n_total, r) == size]
    if not rates:
        return pd.DataFrame()
    planned = [p for p in table1(profile, dataset, cache) if p.job.rate in rates]
    return labelled_results(planned, cache)[0]


# ----------------------------------------------------------------------------- reading


def claim_results(profile: ex.Profile, dataset: str, cache: ex.Cache) -> tuple[pd.DataFrame, int]:
    """Labelled results of every study the claims read (Table 1, the ablation and the
    cross-architecture runs) for ``dataset``, and how many of their jobs are missing."""
    planned = [p for name in ("table1", "ablation", "cross")
               for p in study(name, profile, dataset, cache)]  # fmt: skip
    return labelled_results(planned, cache)


def surrogate_seeds(profile: ex.Profile) -> tuple[int, ...]:
    """Seeds whose surrogate the profile trains: the tuning seed, then the reported ones."""
    return tuple(dict.fromkeys((profile.tuning_seed, *profile.seeds)))


def compute_table(profile: ex.Profile, datasets: Sequence[str], cache: ex.Cache) -> pd.DataFrame:
    """CPU-hours spent per dataset and study, as recorded in each result (a job shared by
    two studies counts in the first), the surrogates first; jobs missing and an estimate
    of the hours they need (:func:`evalib.experiments.estimate_seconds`)."""
    rows, seen = [], set()
    for dataset in datasets:
        done_s = [ex.surrogate_record(profile.surrogate_config(dataset, s), cache)
                  for s in surrogate_seeds(profile)]  # fmt: skip
        secs = [r["seconds"] for r in done_s if r is not None]
        rows.append({"dataset": dataset, "study": "surrogates", "runs done": len(secs),
                     "runs missing": len(done_s) - len(secs), "CPU-hours": sum(secs) / 3600})  # fmt: skip
        studies = [
            (name, [p.job for p in study(name, profile, dataset, cache)]) for name in STUDIES
        ]
        every = [j for _, jobs in studies for j in jobs]
        timed = ex.collect(every, cache)[0]
        for name, jobs in studies:
            jobs = [j for j in dict.fromkeys(jobs) if j not in seen]
            seen.update(jobs)
            done, missing = ex.collect(jobs, cache)
            hours = float(done["seconds"].sum()) / 3600 if len(done) else 0.0
            rows.append({"dataset": dataset, "study": name, "runs done": len(done),
                         "runs missing": len(missing), "CPU-hours": hours,
                         "CPU-hours to go (est.)": ex.estimate_seconds(timed, missing) / 3600})  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- PIE (notebook 07)


def pie_profile(profile: ex.Profile, sparsities: Sequence[float] | None = None,
                lams: Sequence[float] | None = None,
                coreset_rates: Sequence[float] | None = None) -> ex.Profile:  # fmt: skip
    """``profile`` with its PIE settings (``profile.pie``) changed where a notebook
    parameter is given (None keeps the profile's)."""
    cfg = _pie_settings(profile)
    changes = {k: tuple(float(v) for v in vals) for k, vals in
               (("sparsities", sparsities), ("lams", lams), ("coreset_rates", coreset_rates))
               if vals is not None}  # fmt: skip
    return replace(profile, pie=replace(cfg, **changes)) if changes else profile


def _pie_settings(profile: ex.Profile):
    if profile.pie is None:
        raise ex.EvalibError(f"profile {profile.name!r} has no PIE settings (Profile.pie)")
    return profile.pie


def pie_prune(profile: ex.Profile, dataset: str) -> list:
    """The PIE study's prune tasks (:class:`evalib.pie.PruneTask`): dense networks of
    seeds 0 … K−1 (K = ``profile.pie.dense_models``) of the profile's network and recipe,
    each pruned at the profile's sparsities with its fine-tune."""
    from evalib.pie import PruneTask

    cfg = _pie_settings(profile)
    data = profile.data_spec(dataset)
    return [PruneTask.of(cfg, data, profile.model, profile.recipe, k)
            for k in range(cfg.dense_models)]  # fmt: skip


def pie_prune_rows(profile: ex.Profile, dataset: str, cache: ex.Cache) -> list[dict] | None:
    """The rows of :func:`pie_prune` in ``cache``, or None while one is missing."""
    rows = [cache.job_result(t) for t in pie_prune(profile, dataset)]
    return None if any(r is None for r in rows) else rows


def pie_trainings(profile: ex.Profile, dataset: str, cache: ex.Cache,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The PIE study's trainings, all plain jobs, once every :func:`pie_prune` row is in
    ``cache`` (empty before), with the HTL scores of those rows:

    * arm ``coreset:pie``: the highest-HTL coreset at each rate of
      ``profile.pie.coreset_rates`` (None: the profile's rates), stored with the results
      (:func:`~evalib.cache.save_selection`) and trained as a "given" selection; beside
      it ``coreset:random`` and ``coreset:eva`` (the published windows, seed ``s``
      selecting with its own surrogate), the very jobs of Table 1; on ``seeds`` (None:
      the profile's);
    * arm ``emphasis:uniform``: the full training set on the dense seeds 0 … K−1 (the
      dense networks' own job), and ``emphasis:weighted λ=<λ>``: the same with the
      per-sample loss weights 1 + λ·HTL stored with the results
      (:func:`~evalib.cache.save_weights`), for each λ of ``profile.pie.lams``.

    Emphasis by oversampling is not declared: see :class:`evalib.study_config.PIESettings`.
    """
    from evalib import pie
    from evalib.data import dataset_info
    from evalib.pie_tables import PIEResult

    rows = pie_prune_rows(profile, dataset, cache)
    if rows is None:
        return []
    cfg = _pie_settings(profile)
    htl = PIEResult.from_rows(rows).htl
    ids = np.asarray(rows[0]["sample_ids"], np.int64)
    n_total = dataset_info(dataset).n_samples[0]
    data = profile.data_spec(dataset)
    out = []
    for rate in cfg.coreset_rates or profile.rates:
        digest = ex.save_selection(cache, dataset, ids[pie.htl_selection(htl, rate).indices],
                                   n_total)  # fmt: skip
        htl_sel = ex.SelectionSpec.make("given", rate, digest=digest)
        for seed in profile.seeds if seeds is None else seeds:
            job = ex.Job(data, htl_sel, None, profile.model, profile.recipe, seed)
            out.append(Planned("coreset:pie", "epochs", job))
            out.append(Planned("coreset:random", "epochs",
                               _job(profile, dataset, "random", {}, rate, seed, "epochs")))  # fmt: skip
            eva = _job(profile, dataset, "eva", dict(profile.eva_windows()), rate, seed, "epochs")
            out.append(Planned("coreset:eva", "epochs", eva))
    dense = [t.dense_job() for t in pie_prune(profile, dataset)]
    out += [Planned("emphasis:uniform", "epochs", job) for job in dense]
    for lam in cfg.lams:
        weights = ex.save_weights(cache, dataset, pie.emphasis_weights(htl, lam))
        out += [Planned(f"emphasis:weighted λ={lam:g}", "epochs", replace(job, weights=weights))
                for job in dense]  # fmt: skip
    return out


# ----------------------------------------------------------------------------- segmentation


def seg_scoring(profile: ex.Profile, dataset: str) -> ex.Task:
    """Notebook 09's scoring run: the U-Net on every training mosaic of ``dataset``
    (``profile.segmentation``), seed 0, that DAD and pixel EL2N are read from."""
    from evalib.segmentation import ScoringRun

    if profile.segmentation is None:
        raise ex.EvalibError(f"profile {profile.name!r} has no segmentation settings")
    return ScoringRun.of(profile.segmentation, dataset)


def segmentation(profile: ex.Profile, dataset: str, rates: Sequence[float] | None = None,
                 seeds: Sequence[int] | None = None) -> list[ex.Task]:  # fmt: skip
    """Notebook 09's retrains: every pruning method × kept fraction × seed (default the
    ``profile.segmentation`` ones) on the scores of :func:`seg_scoring`, seeds outermost.
    Each reads the scoring row from the cache (computing it when missing): run
    ``[seg_scoring(...)]`` first when the retrains go to parallel workers."""
    from evalib.segmentation import METHODS, Retrain

    cfg = profile.segmentation
    scoring = seg_scoring(profile, dataset)
    return [Retrain(scoring, method, float(rate), int(seed))
            for seed in (seeds or cfg.seeds) for rate in (rates or cfg.rates)
            for method in METHODS]  # fmt: skip


def dad_classification(profile: ex.Profile, dataset: str,
                       seeds: Sequence[int] | None = None) -> list[ex.Job]:  # fmt: skip
    """DAD's classification form as coresets next to EL2N (Table 1's parameters) and
    Random, at the two lowest and the highest of the profile's rates, every seed (the
    benchmark's jobs: same keys, same cache)."""
    rates = sorted({*sorted(profile.rates)[:2], max(profile.rates)})
    el2n = dict(profile.table1_methods())["el2n"]
    methods = [("dad", {}), ("el2n", el2n), ("random", {})]
    return ex.benchmark_jobs(profile, dataset, methods, rates, seeds, include_full=False)


# ----------------------------------------------------------------------------- distillation


def distill_sets(
    profile: ex.Profile, datasets: Sequence[str] | None = None, ipcs: Sequence[int] | None = None
) -> list:
    """The synthetic sets of the distillation page (:class:`evalib.distill.SyntheticSet`):
    DM with ``profile.distill``'s settings on every dataset at every images-per-class
    budget (``datasets``, ``ipcs``: the settings' when None), seed 0."""
    from evalib.distill import SyntheticSet

    cfg = profile.distill
    return [
        SyntheticSet(
            profile.data_spec(flag),
            int(ipc),
            cfg.iterations,
            cfg.batch_real,
            cfg.width,
            cfg.lr_img,
            cfg.momentum,
            cfg.dsa,
            seed=0,
        )  # fmt: skip
        for flag in datasets or cfg.datasets
        for ipc in ipcs or cfg.ipcs
    ]


def distill(
    profile: ex.Profile, datasets: Sequence[str] | None = None, ipcs: Sequence[int] | None = None
) -> list:
    """Every task of the distillation page: the synthetic sets (:func:`distill_sets`),
    then per dataset, budget and evaluation seed (``range(eval_models)``) one evaluation
    network on the distilled, the random real and EVA's real images (EVA: the published
    windows on the profile's first surrogate), and per seed the full training split
    (``full_steps`` steps; none when 0)."""
    from evalib.distill import Evaluation

    cfg = profile.distill
    sets = distill_sets(profile, datasets, ipcs)
    kw = dict(width=cfg.width, lr=cfg.eval_lr, batch=cfg.eval_batch, augment=cfg.eval_augment)
    windows = tuple(tuple(profile.eva_windows()[w]) for w in ("early", "late"))
    out = []
    for flag in datasets or cfg.datasets:
        data = profile.data_spec(flag)
        surrogate = profile.surrogate_config(flag, profile.seeds[0])
        for syn in (s for s in sets if s.dataset == flag):
            for seed in range(cfg.eval_models):
                out += [
                    Evaluation(data, "distilled", syn.ipc, cfg.eval_steps, seed=seed,
                               synthetic=syn, **kw),
                    Evaluation(data, "random", syn.ipc, cfg.eval_steps, seed=seed, **kw),
                    Evaluation(data, "eva", syn.ipc, cfg.eval_steps, seed=seed,
                               surrogate=surrogate, windows=windows, **kw),
                ]  # fmt: skip
        if cfg.full_steps:
            out += [Evaluation(data, "full", None, cfg.full_steps, seed=s, **kw)
                    for s in range(cfg.eval_models)]  # fmt: skip
    return sets + out
