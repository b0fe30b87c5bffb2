"""Fill the job cache for a profile ahead of executing the notebooks (resumable).

    python scripts/precompute.py --profile cpu --datasets organamnist bloodmnist \
        --what table1 variance dual grid cross

Uses the same job builders and parameters as the notebooks (see
``evalib.reproduce.PARAMETERS``), so executing the notebooks afterwards only reads
results. Jobs run seed by seed: an interrupted run leaves complete seeds behind.
"""

from __future__ import annotations

import argparse
import time

from evalib import ablations as ab
from evalib import experiments as ex
from evalib.reproduce import notebook_parameters


def jobs_for(what: str, profile: ex.Profile, dataset: str) -> list[ex.Job]:
    """The jobs one notebook runs for ``dataset`` at ``profile`` with its book parameters."""
    name = {"table1": "02_benchmark", "variance": "03_variance_ablation",
            "dual": "04_dual_window", "grid": "05_window_grid",
            "cross": "06_cross_architecture"}[what]  # fmt: skip
    p = notebook_parameters(name, profile.name)
    rates = tuple(p.get("rates") or profile.rates)
    seeds = tuple(p.get("seeds") or profile.seeds)
    if what == "table1":
        return ex.benchmark_jobs(profile, dataset, profile.table1_methods(), rates, seeds)
    if what == "variance":
        return ab.variance_ablation_jobs(profile, dataset, rates, seeds)
    if what == "dual":
        return ab.dual_window_jobs(profile, dataset, rates, seeds)
    if what == "grid":
        g_rates, g_seeds = ab.resolve_grid(rates, seeds, p.get("grid_rates"), p.get("grid_seeds"))
        return ab.window_grid_jobs(profile, dataset, g_rates, g_seeds)
    return ab.cross_architecture_jobs(profile, dataset, rates, seeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--datasets", nargs="+", default=["organamnist"])
    parser.add_argument("--what", nargs="+", default=["table1"],
                        choices=("table1", "variance", "dual", "grid", "cross"))  # fmt: skip
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    profile = ex.get_profile(args.profile)
    cache = ex.Cache.at(f"{args.results_dir}/{profile.name}")
    jobs = [j for w in args.what for d in args.datasets for j in jobs_for(w, profile, d)]
    jobs = sorted(dict.fromkeys(jobs), key=lambda j: j.seed)  # stable: seed 0 first
    t0 = time.perf_counter()
    executor = ex.make_executor("process" if args.workers > 1 else "serial", args.workers, 1)
    table = ex.run_jobs(jobs, cache, args.data_root, executor, threads=1)
    print(f"{len(table)} jobs in the table; {time.perf_counter() - t0:.0f} s this run")


if __name__ == "__main__":
    main()
