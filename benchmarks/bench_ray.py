"""A smoke grid through the serial, process and Ray executors on this machine.

The grid: the ``smoke`` profile on ``--dataset`` (default OrganAMNIST, its 600-image
training subset, ConvNet of width 0.125, 4 epochs), full data plus random and EVA at
the profile's rates (5 % and 30 %), for ``--seeds`` seeds. The surrogate is recorded
once beforehand into a shared scratch folder, so every row times the same training
jobs. Each run writes into its own fresh results folder:

* ``serial``: one job after another in this process;
* ``process``: :class:`evalib.runs.executors.ProcessExecutor` with ``--workers`` processes;
* ``ray (cold workers)``: a freshly started local Ray instance with ``--workers`` CPUs
  (its worker processes start and import torch during the run); ``startup_s`` is
  ``ray.init``, not included in ``wall_s``;
* ``ray (warm workers)``: the same instance again (workers already up);
* ``ray, 1 worker killed``: the full-data job's worker ``os._exit``s half-way through
  training on its first attempt; Ray retries it and it resumes from its checkpoint.

The five are repeated ``--reps`` times, interleaved (Ray restarted each time);
``wall_s`` is the median, ``wall_min_s``/``wall_max_s`` the range.
``rerun_s`` is a second ``run_jobs`` of the same grid (everything cached: no job runs).
``same_as_serial`` says whether every job's accuracies, training history and coreset
hash equal the serial run's. ``cpus`` and ``load_1min`` are the machine's core count
and load average when the row started (other processes share the CPUs; timings move
with it).

Run: ``python benchmarks/bench_ray.py [--seeds 2] [--workers 2] [--reps 3]``; writes
``results/scaling/ray_smoke.csv`` (read by book/scaling.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalib.runs.batch import _JobCall, benchmark_jobs, run_jobs  # noqa: E402
from evalib.runs.cache import Cache  # noqa: E402
from evalib.runs.config import Job, get_profile  # noqa: E402
from evalib.runs.executors import ProcessExecutor  # noqa: E402
from evalib.runs.ray_executor import RayExecutor  # noqa: E402
from evalib.runs.runner import run_surrogate  # noqa: E402

COMPARED = ["n_train", "steps", "indices_sha256", "paper_val_acc", "clean_test_acc",
            "final_val_acc", "best_val_epoch"]  # fmt: skip


@dataclass(frozen=True)
class KillOnce:
    """Runs a job; on the first attempt of job ``victim`` the worker dies after ``after_s``."""

    call: _JobCall
    victim: str
    marker: str
    after_s: float

    @property
    def cache(self) -> Cache:
        return self.call.cache

    def __call__(self, job: Job) -> dict:
        marker = Path(self.marker)
        if job.key() != self.victim or marker.exists():
            return self.call(job)
        running = threading.Event()
        running.set()

        def kill() -> None:
            if running.is_set():  # still training this job: die mid-epoch
                marker.touch()
                os._exit(1)

        threading.Timer(self.after_s, kill).start()
        try:
            return self.call(job)
        finally:
            running.clear()


def same(cache: Cache, reference: Cache, jobs: list[Job]) -> bool:
    for job in jobs:
        a, b = cache.job_result(job), reference.job_result(job)
        if a is None or b is None or any(a[k] != b[k] for k in COMPARED):
            return False
        strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
        if strip(a["history"]) != strip(b["history"]):
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="organamnist")
    ap.add_argument("--seeds", type=int, default=2, help="seeds 0..n-1 (default 2)")
    ap.add_argument("--workers", type=int, default=2, help="parallel jobs (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--data-root", default=os.environ.get("EVALIB_DATA_ROOT")
                    or str(ROOT.parent / "shared" / "data"))  # fmt: skip
    ap.add_argument("--out", default=str(ROOT / "results" / "scaling" / "ray_smoke.csv"))
    args = ap.parse_args()
    os.environ.setdefault("EVALIB_PROGRESS", "0")

    import ray
    import torch

    torch.set_num_threads(1)
    profile = get_profile("smoke")
    methods = ["random", ("eva", profile.eva_windows())]
    jobs = benchmark_jobs(profile, args.dataset, methods, seeds=tuple(range(args.seeds)))
    tmp = Path(tempfile.mkdtemp(prefix="bench_ray-"))
    scratch = tmp / "scratch"

    def cache(name: str) -> Cache:
        return Cache.at(tmp / name, scratch)

    def call(c: Cache) -> _JobCall:
        return _JobCall(c, args.data_root, None, 1)

    print(f"{len(jobs)} jobs ({args.dataset}, smoke profile); surrogate first …", flush=True)
    run_surrogate(jobs[-1].surrogate, cache("surrogate"), args.data_root, progress=False)

    serial = cache("serial-ref")  # the reference every row is compared with
    run_jobs(jobs, serial, args.data_root, "serial", threads=1, progress=False)
    victim = next(j for j in jobs if j.selection is None)  # the longest job: full data
    half = 0.5 * serial.job_result(victim)["seconds"]  # kill it half-way through training
    proc = ProcessExecutor(args.workers, 1)
    rex = RayExecutor(threads=1, progress=False)
    runs: dict[str, list[dict]] = {}

    def measure(name, c, run, executor="serial", startup_s=0.0):
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        run(c)
        wall = time.perf_counter() - t0
        retried = executor.last_run.get("retried", 0) if isinstance(executor, RayExecutor) else 0
        r0 = time.perf_counter()
        run_jobs(jobs, c, args.data_root, executor, threads=1, progress=False)
        runs.setdefault(name, []).append({
            "startup_s": startup_s, "wall_s": wall, "rerun_s": time.perf_counter() - r0,
            "retried": retried, "same": same(c, serial, jobs), "load": load,
        })  # fmt: skip
        print(f"{name:<24} {wall:6.1f} s", flush=True)

    def via(executor):
        return lambda c: run_jobs(jobs, c, args.data_root, executor, threads=1, progress=False)

    for rep in range(args.reps):  # interleaved, so a change of load hits every executor
        measure("serial", cache(f"serial-{rep}"), via("serial"))
        measure("process", cache(f"process-{rep}"), via(proc), proc)
        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t0
        measure("ray (cold workers)", cache(f"cold-{rep}"), via(rex), rex, startup)
        measure("ray (warm workers)", cache(f"warm-{rep}"), via(rex), rex)
        c = cache(f"kill-{rep}")
        kill = KillOnce(call(c), victim.key(), str(tmp / f"killed-{rep}"), after_s=half)
        measure("ray, 1 worker killed", c, lambda c, k=kill: list(rex.run(k, jobs)), rex)
        ray.shutdown()

    def med(rs, key):
        return statistics.median(r[key] for r in rs)

    base = med(runs["serial"], "wall_s")
    rows = []
    for name, rs in runs.items():
        wall = med(rs, "wall_s")
        rows.append({
            "executor": name, "parallel_jobs": 1 if name == "serial" else args.workers,
            "jobs": len(jobs), "reps": len(rs), "startup_s": round(med(rs, "startup_s"), 1),
            "wall_s": round(wall, 1), "wall_min_s": round(min(r["wall_s"] for r in rs), 1),
            "wall_max_s": round(max(r["wall_s"] for r in rs), 1),
            "jobs_per_min": round(60 * len(jobs) / wall, 1),
            "speedup_vs_serial": round(base / wall, 2), "rerun_s": round(med(rs, "rerun_s"), 2),
            "retried": max(r["retried"] for r in rs),
            "same_as_serial": "yes" if all(r["same"] for r in rs) else "NO",
            "cpus": os.cpu_count(), "load_1min": round(med(rs, "load"), 1),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(table.to_string(index=False))
    killed = sum((tmp / f"killed-{rep}").exists() for rep in range(args.reps))
    print(f"wrote {out}; workers killed: {killed} of {args.reps}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
