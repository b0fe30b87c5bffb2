"""Class balance: EVA with class quotas against Random with the same class counts, and EVA
with the published code's class-balance flag against Random of the same size.

The study ``balance`` (``evalib grid --what balance``) runs, per dataset:

1. :func:`balance_tuning`: class-balanced EVA (EVA's ranking kept within each class, class
   counts proportional to the training set: :func:`evalib.select.class_quotas`) on every
   ordered window pair of the grid, at the tuning rates, on the tuning seed; the pair with
   the best final validation accuracy is chosen per rate, exactly as for EVA
   (:func:`~evalib.studies.grids.coresets.choose_windows`).
2. :func:`balance`: on the reported seeds, at the tuning rates, under both budgets:

   * ``eva_cb_tuned``: class-balanced EVA on its own chosen pair (after stage 1), or, where
     the profile skips stage 1 (``Profile.balance_own_tuning`` false: ``cpu200``, whose
     190-pair grid would cost as much again as EVA's), on EVA's chosen pair;
   * ``random_strat``: stratified Random, the same class counts drawn at random within each
     class (``SelectionSpec.make("random", rate, class_balanced=True)``);
   * ``eva_flag``: EVA on *EVA's* tuned pair with the published code's flag as it behaved
     (``quota="last_class"``: int(rate × size of the last class) per class, capped at the
     class's size, so a slightly larger coreset; after EVA's tuning stage);
   * ``random_flag``: Random of that same total size, drawn over the whole training set
     without strata, as the paper's Random was (the flag only reached score-based
     selection in the published code), so that the comparison differs from the paper's
     EVA − Random only in the coreset's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalib.runs.cache import Cache
from evalib.runs.config import Profile
from evalib.studies.grids.coresets import (
    Planned,
    _budgets,
    _job,
    choose_windows,
    grid_pairs,
    tuned_params,
    tuning_table,
)

#: The arms of the study, in the order pages list them.
BALANCE_ARMS = ("eva_cb_tuned", "random_strat", "eva_flag", "random_flag")
#: Selection options of each arm beyond its windows.
CLASS_BALANCED = {"class_balanced": True}
FLAG = {"class_balanced": True, "quota": "last_class"}
FLAG_SIZE = {"quota": "last_class"}


def runs_balance(profile: Profile, dataset: str) -> bool:
    """Whether the profile runs the balance study on ``dataset`` (``balance_datasets``)."""
    return profile.balance_datasets is None or dataset in profile.balance_datasets


def balance_tuning(profile: Profile, dataset: str) -> list[Planned]:
    """Class-balanced EVA on every ordered pair of the grid at the tuning rates, on the
    tuning seed, under the paper's budget and the tuning recipe (as EVA's own tuning
    jobs); arm "tune:eva_cb". Empty where the profile does not tune it
    (``balance_own_tuning`` false, or a dataset outside ``balance_datasets``)."""
    if not (profile.balance_own_tuning and runs_balance(profile, dataset)):
        return []
    out = []
    for rate in profile.tune_rates:
        for e, lt in grid_pairs(profile.grid_windows()):
            params = {"early": e, "late": lt, **CLASS_BALANCED}
            job = _job(profile, dataset, "eva", params, rate, profile.tuning_seed, "epochs",
                       recipe=profile.tuning_recipe())  # fmt: skip
            out.append(Planned("tune:eva_cb", "epochs", job))
    return out


def balance_tuned_params(
    profile: Profile, dataset: str, cache: Cache
) -> dict[float, dict[str, Any]] | None:
    """Class-balanced EVA's pair chosen on validation per tuning rate (window parameters
    only); None until every tuning job of :func:`balance_tuning` is done."""
    table, missing = tuning_table(profile, dataset, cache, balance_tuning(profile, dataset))
    if missing or table.empty:
        return None
    chosen = choose_windows(table)
    return {
        float(rate): {k: v for k, v in params.items() if k in ("early", "late")}
        for (_, rate), params in chosen.items()
    }


def balance(profile: Profile, dataset: str, cache: Cache,
            seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The study on the profile's ``balance_datasets`` (nothing elsewhere): its tuning stage
    (where ``profile.balance_own_tuning``), then the arms of :data:`BALANCE_ARMS` (those of
    ``profile.balance_arms``) on the reported seeds at the tuning rates, both budgets where the
    profile has a floor (the paper's epochs only where ``balance_floor`` is false). The
    Random arms need no tuning; ``eva_flag`` waits for EVA's tuning stage and
    ``eva_cb_tuned`` for its own (or, without it, for EVA's)."""
    if not runs_balance(profile, dataset):
        return []
    eva = tuned_params(profile, dataset, cache)
    if profile.balance_own_tuning:
        own = balance_tuned_params(profile, dataset, cache)
    else:
        own = None if eva is None else {r: eva[("eva", r)] for r in map(float, profile.tune_rates)}
    out = balance_tuning(profile, dataset)
    for seed in profile.seeds if seeds is None else seeds:
        for rate in profile.tune_rates:
            for budget in _budgets(profile, rate) if profile.balance_floor else ("epochs",):
                arms: list[tuple[str, str, dict[str, Any]]] = [
                    ("random_strat", "random", dict(CLASS_BALANCED)),
                    ("random_flag", "random", dict(FLAG_SIZE)),
                ]
                if own is not None:
                    arms.insert(0, ("eva_cb_tuned", "eva", {**own[float(rate)], **CLASS_BALANCED}))
                if eva is not None:
                    arms.append(("eva_flag", "eva", {**eva[("eva", float(rate))], **FLAG}))
                for arm, method, params in arms:
                    if profile.balance_arms is not None and arm not in profile.balance_arms:
                        continue
                    job = _job(profile, dataset, method, params, rate, seed, budget)
                    out.append(Planned(arm, budget, job))
    return out
