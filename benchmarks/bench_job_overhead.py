"""The fixed cost of a small coreset job, before and after the cuts made for the cpu200 grid.

A 2 % OrganAMNIST job of the `cpu` recipe (ConvNet width 0.25, 20 epochs of batch 128:
120 optimiser steps on 692 images) spends most of its time outside its optimiser steps.
This script runs that job (Random, seed 0; Random needs no surrogate) three ways, with one
torch thread, and measures the CPU time of this process (other load on the machine hardly
moves it):

* ``steps``: the 120 optimiser steps alone (``evalib.train.train`` with no val/test split);
* ``before``: the job as the runner ran it before the cuts: the dataset read from its file,
  the validation split evaluated every 2 epochs and the test split after the last, in
  batches of 1024, and a second pass over the test split for per-class accuracy (the
  runner no longer makes it: it is timed apart, as ``evalib.train.predictions``, and added);
* ``after``: a tuning job of ``cpu200`` (``Profile.tune_recipe``): the dataset kept by the
  worker from its previous job, one evaluation after the last epoch in batches of 256, and
  per-class accuracy from that same pass.

The fixed cost of a job is its time minus ``steps``; it is printed as a share of the
``before`` job's time and of the ``after`` job's own time (target: at most a third).

Run (about a minute on an idle 2-core machine)::

    python benchmarks/bench_job_overhead.py [--data-root ../shared/data] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from evalib.runs import runner  # noqa: E402
from evalib.runs.cache import Cache  # noqa: E402
from evalib.runs.config import Job, SelectionSpec, get_profile  # noqa: E402
from evalib.train import predictions, train  # noqa: E402


def cpu_seconds(fn) -> tuple[float, object]:
    """(CPU seconds of this process spent in ``fn()``, its result)."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=os.environ.get("EVALIB_DATA_ROOT"))
    parser.add_argument("--dataset", default="organamnist")
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cpu, cpu200 = get_profile("cpu"), get_profile("cpu200")
    data = cpu.data_spec(args.dataset)
    sel = SelectionSpec.make("random", args.rate)
    before_job = Job(data, sel, None, cpu.model, cpu.recipe, 0)
    after_job = Job(data, sel, None, cpu.model, cpu200.tuning_recipe(), 0)

    def run(job: Job, cold: bool) -> tuple[float, dict]:
        if cold:
            runner._load_file.cache_clear()
        with tempfile.TemporaryDirectory() as tmp:
            cache = Cache.at(Path(tmp) / "results", Path(tmp) / "scratch")
            return cpu_seconds(lambda: runner.run_job(job, cache, args.data_root, threads=1))

    def best(fn) -> tuple[float, object]:
        return min((fn() for _ in range(args.repeat)), key=lambda r: r[0])

    # the coreset and its training set, as the jobs see them
    ds, train_split, ids, _, test = runner.load_data(data, args.data_root)
    positions = runner.select_for_job(before_job, None, ids, train_split.labels.numpy())
    coreset = train_split.subset(positions)

    def steps_only():
        torch.manual_seed(0)
        from evalib.models import build_model

        model = build_model(cpu.model.name, ds.info.n_channels, ds.info.n_classes, cpu.model.width)
        return train(model, coreset, replace(cpu.recipe, eval_every=10**6), 0, record=False,
                     progress=False)  # fmt: skip

    run(after_job, cold=True)  # warm up: torch's kernels, and the worker's dataset
    t_steps, result = best(lambda: cpu_seconds(steps_only))
    t_before, row_before = best(lambda: run(before_job, cold=True))
    # the runner before the cuts made a second pass over the test split for per-class
    # accuracy; today's runner takes them from the last evaluation, so time that pass apart
    t_extra, _ = best(lambda: cpu_seconds(lambda: predictions(result.model, test)))
    t_before += t_extra
    run(after_job, cold=True)  # the dataset kept by the worker, as after a grid's earlier job
    t_after, row_after = best(lambda: run(after_job, cold=False))
    steps = row_before["steps"]
    print(f"{args.dataset} {args.rate:.0%}: {len(positions)} images, {steps} optimiser steps; "
          f"CPU seconds, 1 thread ({torch.backends.cpu.get_cpu_capability()})")  # fmt: skip
    print(f"  steps alone         {t_steps:6.2f} s")
    note = f" (incl. {t_extra:.2f} s second test pass, timed apart)" if t_extra else ""
    print(f"  job before          {t_before:6.2f} s{note}")
    print(f"  job after           {t_after:6.2f} s")
    fixed_before, fixed_after = t_before - t_steps, t_after - t_steps
    print(f"  fixed cost before   {fixed_before:6.2f} s = {fixed_before / t_before:.0%} of the job")
    print(f"  fixed cost after    {fixed_after:6.2f} s = {fixed_after / t_before:.0%} of the "
          f"job before, {fixed_after / t_after:.0%} of the job after")  # fmt: skip
    print(f"  job after / before  {t_after / t_before:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
