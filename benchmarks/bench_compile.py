"""Eager vs ``torch.compile`` for the ``cpu`` profile's network, per job, compilation
included; prints ratios, not a test.

Two jobs of the profile on real OrganAMNIST, one torch thread, fp32:

* a 2 % coreset (691 images) trained for the profile's coreset epochs, evaluated as the
  runner does (validation subset every ``eval_every`` epochs, test at the end);
* a surrogate epoch on a stratified subset (``--samples``, default 4096), timed over
  ``--epochs`` epochs after the first and scaled to the full training split.

Each is timed eagerly and compiled (Inductor; "cold": a fresh cache folder, so the
compilation is paid in full; "warm": the cache of the cold run, as a long grid sees it
after its first job). Times are process CPU seconds (``time.process_time``), which a
busy machine disturbs much less than wall time. Each variant runs in its own process.

Run: ``python benchmarks/bench_compile.py [--samples 4096] [--epochs 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def _child(variant: str, what: str, samples: int, epochs: int) -> dict:
    from dataclasses import replace

    import numpy as np
    import torch

    from evalib.data import stratified_subset
    from evalib.models import build_model
    from evalib.runs.config import get_profile
    from evalib.runs.runner import load_data
    from evalib.train import train

    torch.set_num_threads(1)
    p = get_profile("cpu")
    ds, train_split, _, val, test = load_data(p.data_spec("organamnist"))
    torch.manual_seed(0)
    model = build_model(p.model.name, 1, ds.info.n_classes, p.model.width)
    if variant != "eager":
        model = torch.compile(model)
    t0 = time.process_time()
    stamps = [t0]
    if what == "coreset":
        ids = stratified_subset(train_split.labels, int(np.ceil(0.02 * len(train_split))), seed=0)
        train(model, train_split.subset(ids), p.recipe, 0, val=val, test=test, record=False,
              progress=False)  # fmt: skip
        return {"seconds": time.process_time() - t0}
    ids = stratified_subset(train_split.labels, samples, seed=0)
    recipe = replace(p.surrogate, epochs=epochs + 1)
    train(model, train_split.subset(ids), recipe, 0, record=True, progress=False,
          on_epoch_end=lambda e: stamps.append(time.process_time()))  # fmt: skip
    per_epoch = float(np.median(np.diff(stamps)[1:])) * len(train_split) / samples
    return {"epoch": per_epoch, "first_epoch": stamps[1] - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.samples, args.epochs)))
        return
    import torch

    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          "1 thread, fp32, cpu profile's ConvNet")  # fmt: skip
    cache = tempfile.mkdtemp(prefix="inductor-")
    results = {}
    for what in ("coreset", "surrogate"):
        for variant in ("eager", "cold", "warm"):
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"}
            if variant == "cold":
                env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-cold-")
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, what, "--samples",
                 str(args.samples), "--epochs", str(args.epochs)],
                capture_output=True, text=True, env=env, check=True,
            )  # fmt: skip
            results[(what, variant)] = json.loads(out.stdout.strip().splitlines()[-1])
    eager = results[("coreset", "eager")]["seconds"]
    for v in ("cold", "warm"):
        c = results[("coreset", v)]["seconds"]
        print(f"2 % coreset job ({v} compile): eager {eager:.1f} s, compiled {c:.1f} s, "
              f"compiled/eager = {c / eager:.2f}")  # fmt: skip
    e = results[("surrogate", "eager")]
    for v in ("cold", "warm"):
        c = results[("surrogate", v)]
        first = c["first_epoch"] - e["first_epoch"]
        print(f"surrogate epoch (full split, steady): eager {e['epoch']:.1f} s, compiled ({v}) "
              f"{c['epoch']:.1f} s, compiled/eager = {c['epoch'] / e['epoch']:.2f}; "
              f"compilation ≈ {first:.1f} s once per process")  # fmt: skip
    surrogate_epochs = 40
    for v in ("cold", "warm"):
        c = results[("surrogate", v)]
        job_e = e["epoch"] * surrogate_epochs
        job_c = c["epoch"] * surrogate_epochs + (c["first_epoch"] - e["first_epoch"])
        print(f"40-epoch surrogate job ({v}): compiled/eager = {job_c / job_e:.2f}")


if __name__ == "__main__":
    main()
