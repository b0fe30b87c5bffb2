"""Full-data accuracy and cost of candidate networks for the ``cpu`` profile; prints a
table and writes one JSON file per candidate to ``results/cpu/candidates/``.

Each candidate trains on the whole OrganAMNIST training split (seed 0, batch 128, fp32,
one torch thread, the official optimiser and schedule) and is evaluated on the full
validation and test splits every 5 epochs; it records the wall time and the process CPU
time of the whole run (a machine shared with other work inflates the wall time; the CPU
time much less). A run takes 20–60 CPU
minutes, so candidates are given on the command line:

    python benchmarks/bench_candidates.py convnet:0.25:20:none convnet:0.25:20:crop

(name:width:epochs:augment). ``--table`` only prints the committed results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

OUT = Path(__file__).resolve().parents[1] / "results" / "cpu" / "candidates"


def run(name: str, width: float, epochs: int, augment: str, data_root: str | None) -> dict:
    import torch

    from evalib import data
    from evalib.models import build_model
    from evalib.runs.runner import provenance
    from evalib.train import Recipe, train

    torch.set_num_threads(1)
    ds = data.load("organamnist", data_root)
    torch.manual_seed(0)
    model = build_model(name, 1, ds.info.n_classes, width)
    recipe = Recipe(epochs=epochs, batch_size=128, eval_every=5, augment=augment)
    t0, c0 = time.perf_counter(), time.process_time()
    res = train(model, ds.split("train"), recipe, seed=0, val=ds.split("val"),
                test=ds.split("test"), record=False, progress=False, test_every_eval=True)  # fmt: skip
    return {"model": name, "width": width, "epochs": epochs, "augment": augment,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "history": res.history,
            "provenance": provenance("cpu"), "host": platform.node()}  # fmt: skip


def table() -> list[dict]:
    rows = []
    for path in sorted(OUT.glob("*.json")):
        r = json.loads(path.read_text())
        last = r["history"][-1]
        rows.append({"model": r["model"], "width": r["width"], "epochs": r["epochs"],
                     "augment": r["augment"], "test %": 100 * last["test_acc"],
                     "val %": 100 * last["val_acc"], "train %": 100 * last["train_acc"],
                     "wall s/epoch": r["seconds"] / r["epochs"],
                     "CPU s/epoch": (r.get("cpu_seconds") or float("nan")) / r["epochs"]})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("candidates", nargs="*", help="name:width:epochs:augment")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--table", action="store_true", help="only print the committed results")
    args = ap.parse_args()
    if args.table:
        args.candidates = []
    for spec in args.candidates:
        name, width, epochs, augment = spec.split(":")
        result = run(name, float(width), int(epochs), augment, args.data_root)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{name}-{width}-{epochs}-{augment}.json").write_text(json.dumps(result))
    for row in table():
        print("  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in row.items()))  # fmt: skip


if __name__ == "__main__":
    main()
