"""Fill the job cache for a profile ahead of executing the notebooks (resumable).

    python scripts/precompute.py --profile cpu --dataset bloodmnist --what table1

Uses the same job builders as the notebooks, so the notebooks then only read results.
"""

from __future__ import annotations

import argparse
import time

from evalib import experiments as ex


def table1_jobs(profile: ex.Profile, dataset: str) -> list[ex.Job]:
    return ex.benchmark_jobs(profile, dataset, profile.table1_methods())


WHAT = {"table1": table1_jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset", default="organamnist")
    parser.add_argument("--what", nargs="+", default=["table1"], choices=sorted(WHAT))
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    profile = ex.get_profile(args.profile)
    cache = ex.Cache.at(f"{args.results_dir}/{profile.name}")
    jobs = [j for w in args.what for j in WHAT[w](profile, args.dataset)]
    t0 = time.perf_counter()
    executor = ex.make_executor("process" if args.workers > 1 else "serial", args.workers, 1)
    table = ex.run_jobs(jobs, cache, args.data_root, executor, threads=1)
    print(f"{len(table)} jobs in the table; {time.perf_counter() - t0:.0f} s this run")


if __name__ == "__main__":
    main()
