"""Store, for every surrogate recorded in the scratch cache, the coresets that the
studies of ``evalib.studies.grids`` can ask of it, so that later sessions train them without
retraining the surrogate (its dynamics live in the scratch cache, which is not kept).

For each (dataset, seed) whose surrogate is in the cache: every selection of the fixed
Table 1 methods, EVA's published windows and the official-code EVA at every rate, and
every window or pair of the tuned arms (EVA at every rate, EXP-S, VAR-S, EXP-D at the
tuning rates), as packed bitmasks under ``results/<profile>/selections/<dataset>/``,
with ``index.json`` mapping a selection key (surrogate key, selection spec, seed) to the
bitmask's digest.

Run: ``python scripts/commit_selections.py [--profile cpu] [--dataset bloodmnist] [--balance]``
(``EVALIB_CACHE`` names the scratch cache that holds the surrogates).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evalib.runs.cache import (
    Cache,
    default_results_dir,
    read_selection_index,
    remember_selections,
    save_selection,
    selection_key,
    selection_path,
)
from evalib.runs.config import Job, Profile, get_profile
from evalib.runs.runner import load_data, run_surrogate, select_for_job
from evalib.studies import grids  # noqa: E402
from evalib.studies.grids.balance import CLASS_BALANCED, FLAG  # noqa: E402
from evalib.studies.grids.coresets import _job  # noqa: E402


def candidate_jobs(profile: Profile, dataset: str, seed: int, balance: bool = False) -> list[Job]:
    """Every coreset job that a study may plan on ``seed``'s surrogate: the profile's Table 1
    methods and tuned arms (``Profile.tuned_arms``) on every window or pair; with
    ``balance``, also the balance study's class-balanced and official-flag EVA on every pair
    at the tuning rates."""
    windows = profile.grid_windows()
    pairs = grids.grid_pairs(windows)
    arms = grids.tuned_arms(profile)
    jobs = []
    for rate in profile.rates:
        for method, params in profile.table1_methods():
            if method != "random":
                jobs.append(_job(profile, dataset, method, params, rate, seed, "epochs"))
        jobs.append(_job(profile, dataset, "eva_official", dict(profile.eva_windows()),
                               rate, seed, "epochs"))  # fmt: skip
        if "eva" in arms:
            for e, lt in pairs:
                jobs.append(_job(profile, dataset, "eva", {"early": e, "late": lt}, rate,
                                       seed, "epochs"))  # fmt: skip
    for rate in profile.tune_rates:
        for w in windows:
            for method in ("exp_s", "var_s"):
                if method in arms:
                    jobs.append(_job(profile, dataset, method, {"window": w}, rate, seed,
                                           "epochs"))  # fmt: skip
        for e, lt in pairs:
            if "exp_d" in arms:
                jobs.append(_job(profile, dataset, "exp_d", {"early": e, "late": lt}, rate,
                                       seed, "epochs"))  # fmt: skip
            if balance:
                for extra in (CLASS_BALANCED, FLAG):
                    jobs.append(_job(profile, dataset, "eva",
                                           {"early": e, "late": lt, **extra}, rate, seed,
                                           "epochs"))  # fmt: skip
    return list(dict.fromkeys(jobs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--results-dir", default=None, help="default: the checkout's results/")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--dataset", nargs="+", default=["organamnist", "bloodmnist"])
    ap.add_argument("--balance", action="store_true", help="also the balance study's coresets")
    args = ap.parse_args()
    profile = get_profile(args.profile)
    root = default_results_dir() if args.results_dir is None else Path(args.results_dir)
    cache = Cache.at(root / profile.name)
    for dataset in args.dataset:
        for seed in grids.surrogate_seeds(profile):
            cfg = profile.surrogate_config(dataset, seed)
            if not (cache.surrogate_dir(cfg) / "meta.json").exists():
                print(f"{dataset} seed {seed}: no surrogate in {cache.scratch}, skipped")
                continue
            dyn = run_surrogate(cfg, cache, args.data_root, progress=False)
            ds, train_split, ids, _, _ = load_data(cfg.data, args.data_root)
            labels = train_split.labels.numpy()
            index = read_selection_index(cache, dataset)
            entries = {}
            for job in candidate_jobs(profile, dataset, seed, args.balance):
                key = selection_key(job)
                if key in index and selection_path(cache, dataset, index[key]).exists():
                    continue
                positions = select_for_job(job, dyn, ids, labels, cache)
                entries[key] = save_selection(cache, dataset, ids[positions], ds.info.n_samples[0])
            remember_selections(cache, dataset, entries)
            print(f"{dataset} seed {seed}: {len(entries)} selections stored", flush=True)


if __name__ == "__main__":
    main()
