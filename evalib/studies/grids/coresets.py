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
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalib.runs.cache import Cache
from evalib.runs.config import Job, ModelSpec, Profile, SelectionSpec
from evalib.studies.labels import fmt_pair, fmt_window
from evalib.train import Recipe

Window = tuple[int, int]
#: Arms whose windows are tuned, with the score method each one runs.
TUNED_ARMS = {"eva": "eva", "exp_s": "exp_s", "var_s": "var_s", "exp_d": "exp_d"}
#: Table 1's methods with fixed parameters (EVA with the published windows is added).
FIXED_METHODS = ("random", "forgetting", "entropy", "el2n", "aum", "ccs")
BUDGETS = ("epochs", "floor")


def tuned_arms(profile: Profile) -> dict[str, str]:
    """The tuned arms this profile runs (``Profile.tuned_arms``), with their score methods."""
    return {arm: TUNED_ARMS[arm] for arm in profile.tuned_arms}


@dataclass(frozen=True)
class Planned:
    """A job and what it is for: ``arm`` (e.g. "random", "eva_published", "eva_tuned",
    "grid") and ``budget`` ("epochs" or "floor")."""

    arm: str
    budget: str
    job: Job


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


def _job(profile: Profile, dataset: str, method: str, params: Mapping[str, Any],
         rate: float, seed: int, budget: str, model: ModelSpec | None = None,
         recipe: Recipe | None = None) -> Job:  # fmt: skip
    sel = SelectionSpec.make(method, rate, **dict(params))
    surrogate = profile.surrogate_config(dataset, seed)  # random ignores it (as benchmark_jobs)
    floor = profile.min_steps if budget == "floor" else 0
    return Job(
        profile.data_spec(dataset),
        sel,
        surrogate,
        model or profile.model,
        recipe or profile.recipe,
        seed,
        min_steps=floor,
    )


def _budgets(profile: Profile, rate: float) -> tuple[str, ...]:
    floor = profile.min_steps > 0 and any(math.isclose(rate, r) for r in profile.floor_rates)
    return BUDGETS if floor else ("epochs",)


def full_jobs(profile: Profile, dataset: str, seeds: Sequence[int] | None = None) -> list[Planned]:
    """The full training set, one job per seed."""
    data = profile.data_spec(dataset)
    return [
        Planned("full", "epochs", Job(data, None, None, profile.model, profile.recipe, s))
        for s in (profile.seeds if seeds is None else seeds)
    ]


# ----------------------------------------------------------------------------- stage 1


def tuning(profile: Profile, dataset: str) -> list[Planned]:
    """Every window (single arms) and pair (dual arms) at the tuning rates, on the tuning
    seed, under the paper's budget; arm = "tune:<arm>"."""
    windows = profile.grid_windows()
    pairs = grid_pairs(windows)
    out = []
    for rate in profile.tune_rates:
        for arm, method in tuned_arms(profile).items():
            options = windows if arm in ("exp_s", "var_s") else pairs
            for w in options:
                job = _job(profile, dataset, method, _params(arm, w), rate, profile.tuning_seed,
                           "epochs", recipe=profile.tuning_recipe())  # fmt: skip
                out.append(Planned(f"tune:{arm}", "epochs", job))
    return out


def window_label(params: Mapping[str, Any]) -> str:
    """ "[a, b)" or "[a, b) + [c, d)" from a job's window parameters."""
    if "window" in params:
        return fmt_window(params["window"])
    return fmt_pair(params["early"], params["late"])


def tuning_table(profile: Profile, dataset: str, cache: Cache,
                 planned: Sequence[Planned] | None = None) -> tuple[pd.DataFrame, int]:  # fmt: skip
    """Results of the tuning jobs found in ``cache`` (arm, rate, windows, accuracies and
    the coreset's digest) and how many are still missing; ``planned``: other tuning jobs
    than :func:`tuning`'s (e.g. class-balanced EVA's)."""
    planned = tuning(profile, dataset) if planned is None else planned
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
            "indices_sha256": res.get("indices_sha256"),
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
    profile: Profile, dataset: str, cache: Cache
) -> dict[tuple[str, float], dict[str, Any]] | None:
    """Chosen windows per (arm, rate) for every rate of the profile (a rate without a
    tuning run takes the nearest tuned rate's choice, on a log scale); None until every
    tuning job is done."""
    table, missing = tuning_table(profile, dataset, cache)
    if missing or table.empty:
        return None
    chosen = choose_windows(table)
    out = {}
    for arm in tuned_arms(profile):
        for rate in sorted({*profile.rates, *profile.tune_rates}):
            near = min(profile.tune_rates, key=lambda r: abs(math.log(r / rate)))
            out[(arm, float(rate))] = chosen[(arm, float(near))]
    return out


# ----------------------------------------------------------------------------- stage 2


def table1(profile: Profile, dataset: str, cache: Cache | None = None,
           seeds: Sequence[int] | None = None, rates: Sequence[float] | None = None) -> list[Planned]:  # fmt: skip
    """Table 1: the full set (where ``profile.full_runs``), the fixed methods and EVA with
    the published windows at every rate and seed, both budgets at the floor rates; EVA with
    tuned windows once the tuning stage is done (``cache`` given)."""
    seeds = tuple(profile.seeds if seeds is None else seeds)
    rates = tuple(profile.rates if rates is None else rates)
    methods = [(m, dict(p)) for m, p in profile.table1_methods() if m in FIXED_METHODS]
    methods.append(("eva_published", dict(profile.eva_windows())))
    tuned = None if cache is None else tuned_params(profile, dataset, cache)
    out = full_jobs(profile, dataset, seeds) if profile.full_runs else []
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


def ablation(profile: Profile, dataset: str, cache: Cache,
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
                for arm, method in tuned_arms(profile).items():
                    job = _job(
                        profile, dataset, method, tuned[(arm, float(rate))], rate, seed, budget
                    )
                    out.append(Planned("var_d" if arm == "eva" else arm, budget, job))
    return out


def dual(profile: Profile, dataset: str, seeds: Sequence[int] | None = None) -> list[Planned]:
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


def cross(profile: Profile, dataset: str, cache: Cache,
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


def labelled_results(planned: Sequence[Planned], cache: Cache) -> tuple[pd.DataFrame, int]:
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
