"""Add the per-class test accuracy to stored job rows written before runs recorded it.

The pages that say why EVA's coresets lose to Random (02, 10) read ``test_per_class`` from
the job rows of EVA with tuned windows and Random at the profile's low rates (both
budgets, the reported seeds, every dataset). Rows computed before the runner recorded it
lack it. For each such row this script retrains the job from its committed coreset, as
``evalib rerun`` does (same thread count, no surrogate), checks that every reproduced
field comes out unchanged (accuracies, steps, the coreset's digest, the size, the best
epoch and the whole training history but its timings), and only then rewrites the row
with ``test_per_class`` and ``test_worst_class_acc`` added: same file, same key, every
other field as it was. A row whose rerun differs is left alone and reported.

Run (one process per dataset to use both cores)::

    python scripts/add_per_class.py --profile cpu --datasets organamnist
    python scripts/add_per_class.py --profile cpu --datasets bloodmnist
    python scripts/add_per_class.py --dry-run      # list what would be recomputed
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from evalib.runs.cache import (  # noqa: E402
    Cache,
    atomic_write_json,
    default_cache_dir,
    default_results_dir,
    load_selection,
)
from evalib.runs.config import Job, Profile, get_profile  # noqa: E402
from evalib.runs.rerun import REPRODUCED_FIELDS, stored_job  # noqa: E402

#: What must come out of the rerun unchanged before the row is rewritten.
CHECKED = (*REPRODUCED_FIELDS, "final_train_acc", "n_train", "epochs", "best_val_epoch")
ADDED = ("test_per_class", "test_worst_class_acc")


def target_jobs(profile: Profile, dataset: str, cache: Cache,
                arms: Sequence[str] = ("eva_tuned", "random")) -> list[Job]:  # fmt: skip
    """Table 1's jobs of ``arms`` at the profile's tuning rates, every budget and reported
    seed (EVA's tuned arm once its tuning stage is in ``cache``)."""
    from evalib.studies import grids

    planned = grids.table1(profile, dataset, cache, rates=profile.tune_rates)
    return list(dict.fromkeys(p.job for p in planned if p.arm in arms))


def _timeless(history: Any) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history or []]


def add_per_class(path: str | os.PathLike, scratch: str | os.PathLike,
                  data_root: str | None = None, progress: bool = False) -> tuple[str, dict]:  # fmt: skip
    """Recompute the job stored at ``path`` from its committed coreset and add its
    per-class test accuracy to the row when every field of :data:`CHECKED` and the
    history reproduce exactly. Returns (status, {field: (stored, new)}): status is
    "present" (nothing to do), "added" or "different" (the row is left alone)."""
    import numpy as np
    import torch

    from evalib.runs.runner import load_data, positions_of, run_job

    path = Path(path)
    job, stored = stored_job(path)
    if not isinstance(job, Job):
        return "present", {}  # a study task: not a coreset job
    if isinstance(stored.get("test_per_class"), list):
        return "present", {}
    threads = stored.get("torch_threads", 1)
    torch.set_num_threads(max(1, threads if isinstance(threads, int) else 1))
    home = Cache(path.resolve().parent.parent, default_cache_dir())
    fresh = Cache.at(Path(scratch) / "results", Path(scratch) / "scratch")
    _, _, ids, _, _ = load_data(job.data, data_root)
    if job.selection is None:
        positions = np.arange(len(ids), dtype=np.int64)
    else:
        chosen = load_selection(home, job.data.dataset, stored["indices_sha256"])
        positions = positions_of(chosen, ids)
    new = run_job(job, fresh, data_root, progress=progress, positions=positions)
    compared = {f: (stored.get(f), new.get(f)) for f in CHECKED}
    history = _timeless(stored.get("history")) == _timeless(new.get("history"))
    compared["history"] = ("stored", "stored" if history else "differs")
    if not all(a == b for a, b in compared.values()):
        return "different", compared
    atomic_write_json(path, {**stored, **{f: new[f] for f in ADDED}})
    return "added", compared


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--datasets", nargs="+", default=["organamnist", "bloodmnist"])
    ap.add_argument("--arms", nargs="+", default=["eva_tuned", "random"])
    ap.add_argument("--results-dir", default=None, help="default: the checkout's results/")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--scratch", default=None, help="a folder for the reruns (default: tmp)")
    ap.add_argument("--dry-run", action="store_true", help="list the rows, recompute nothing")
    args = ap.parse_args(argv)
    profile = get_profile(args.profile)
    root = Path(args.results_dir) if args.results_dir else default_results_dir()
    cache = Cache(root / profile.name, default_cache_dir())
    failed = 0
    for dataset in args.datasets:
        jobs = target_jobs(profile, dataset, cache, args.arms)
        todo = []
        for job in jobs:
            row = cache.job_result(job)
            if row is None:
                print(f"{dataset} {job.key()}: no stored row (run the study first)")
            elif not isinstance(row.get("test_per_class"), list):
                todo.append(job)
        print(f"{dataset}: {len(jobs)} rows, {len(todo)} without per-class accuracy")
        for i, job in enumerate(todo, 1):
            what = f"{job.method} {job.rate:.0%} seed {job.seed} min_steps {job.min_steps}"
            if args.dry_run:
                print(f"  would recompute {cache.job_path(job).name} ({what})")
                continue
            with tempfile.TemporaryDirectory(prefix="evalib-per-class-", dir=args.scratch) as tmp:
                status, compared = add_per_class(cache.job_path(job), tmp, args.data_root)
            print(f"  [{i}/{len(todo)}] {cache.job_path(job).name} ({what}): {status}")
            if status == "different":
                failed += 1
                for field, (a, b) in compared.items():
                    if a != b:
                        print(f"      {field}: stored {a!r}, rerun {b!r}")
    if failed:
        print(f"{failed} rows did not reproduce and were left as they were")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
