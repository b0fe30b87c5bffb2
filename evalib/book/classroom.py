"""The walkthrough's ``class`` mode: coresets from small committed dynamics, in minutes.

A class hour has no time to train a surrogate, so the dynamics of one small surrogate
run are committed with the book (``notebooks/data/``, about a megabyte of float16) and
every coreset is chosen from them. Only the coreset models are trained here, each for
a fixed number of optimiser steps, and each is tested on the dataset's test split.

The committed file was recorded with :data:`RECORD_COMMAND` (run from the repository
root; about a minute and a half on one CPU thread); rerun it to regenerate the file.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalib.errors import EvalibError

CLASS_DYNAMICS = "data/organamnist_class_dynamics.npz"  # relative to notebooks/
RECORD_COMMAND = (
    "evalib train --dataset organamnist --subset 5000 --model convnet --width 0.25 "
    "--epochs 10 --batch-size 128 --eval-every 5 --seed 0 --threads 1 --quiet "
    "--out notebooks/data/organamnist_class_dynamics.npz"
)


@dataclass(frozen=True)
class ClassPlan:
    """What the class mode trains: every method × rate × seed, each coreset model a
    ConvNet of ``width`` trained for ``steps`` SGD steps of ``batch_size`` images (a
    fixed number of steps, so a 2 % coreset is not judged on a handful of updates) and
    tested on a stratified ``test_subset`` of the test split (None: all of it)."""

    methods: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("random", {}),
        ("el2n", {"end": 2}),
        ("forgetting", {}),
    )
    rates: tuple[float, ...] = (0.02, 0.1)
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 100
    batch_size: int = 32
    test_subset: int | None = 2000
    model: str = "convnet"
    width: float = 0.25

    def recipe(self):
        from evalib.train import Recipe

        return Recipe(iterations=self.steps, batch_size=self.batch_size, eval_every=10**6)


def default_windows(num_epochs: int) -> dict[str, tuple[int, int]]:
    """The official code's windows ([0, 10) and [100, 110) of 200 epochs) scaled to
    ``num_epochs``, as every profile scales them."""
    from dataclasses import replace

    from evalib.runs.config import PROFILES

    paper = PROFILES["paper"]
    return replace(paper, recipe=replace(paper.recipe, epochs=int(num_epochs))).eva_windows()


def load_class_dynamics(notebook_dir: str | Path = "."):
    """The committed class dynamics (``notebooks/data/…``) as a Dynamics object."""
    from evalib.dynamics import load

    path = Path(notebook_dir) / CLASS_DYNAMICS
    if not path.exists():
        raise EvalibError(
            f"class dynamics not found at {path}; regenerate them with: {RECORD_COMMAND}"
        )
    return load(path)


def run_class(
    dyn,
    dataset,
    plan: ClassPlan = ClassPlan(),
    threads: int | None = None,
    on_row=None,
) -> pd.DataFrame:
    """Train one coreset model per method × rate × seed of ``plan``, chosen from ``dyn``
    (whose ``sample_ids`` index ``dataset.train``); returns one row per model with
    method, rate, seed, n_train, steps, test_acc (fraction), n_test, seconds."""
    from evalib.models import build_model
    from evalib.select import select
    from evalib.train import seed_everything, train

    labels = dataset.train.labels.numpy()
    ids = np.asarray(dyn.sample_ids)
    if ids.max(initial=-1) >= len(labels) or not np.array_equal(labels[ids], dyn.labels):
        raise EvalibError("these dynamics were not recorded on this dataset's training split")
    recipe = plan.recipe()
    test = dataset.test
    if plan.test_subset is not None and plan.test_subset < len(test):
        from evalib.data import stratified_subset

        test = test.subset(stratified_subset(test.labels, plan.test_subset, seed=0))
    rows = []
    for method, params in plan.methods:
        for rate in plan.rates:
            for seed in plan.seeds:
                t0 = time.perf_counter()
                sel = select(method, dyn, rate, seed=seed, **dict(params))
                coreset = dataset.train.subset(np.sort(sel.sample_ids))
                seed_everything(seed)
                model = build_model(plan.model, dataset.info.n_channels, dataset.info.n_classes,
                                    plan.width)  # fmt: skip
                result = train(model, coreset, recipe, seed, test=test, record=False,
                               threads=threads, progress=False)  # fmt: skip
                row = {"method": method, "rate": float(rate), "seed": int(seed),
                       "n_train": int(sel.size), "steps": int(result.steps),
                       "test_acc": float(result.history[-1]["test_acc"]), "n_test": len(test),
                       "seconds": time.perf_counter() - t0}  # fmt: skip
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    return pd.DataFrame(rows)


def save_table(table: pd.DataFrame, folder: str | Path) -> Path:
    """Write the class run's ``table`` to ``folder/walkthrough.csv`` (atomically). The
    folder must be new, empty, or one evalib wrote (a one-line EvalibError otherwise);
    returns the file's path."""
    from evalib.io import atomic_file, claim_dir

    def written_by_an_older_walkthrough(path: Path) -> bool:
        return {p.name for p in path.iterdir()} <= {"walkthrough.csv", "walkthrough_run.json"}

    out = claim_dir(folder, "class", legacy=written_by_an_older_walkthrough,
                    what="the walkthrough's class results folder")  # fmt: skip
    path = out / "walkthrough.csv"
    with atomic_file(path, "w") as fh:
        table.to_csv(fh, index=False)
    return path


def against_random(table: pd.DataFrame) -> pd.DataFrame:
    """Per method and rate: mean test accuracy (%) and the seed-paired difference to
    Random (points), mean and min/max over seeds."""
    acc = table.assign(acc=100 * table["test_acc"])
    wide = acc.pivot_table(index=["rate", "seed"], columns="method", values="acc")
    if "random" not in wide:
        raise EvalibError("the class table has no Random rows to compare with")
    out = []
    for method in [m for m in dict.fromkeys(table["method"]) if m != "random"]:
        for rate, g in wide.groupby(level="rate"):
            d = (g[method] - g["random"]).dropna()
            out.append({"method": method, "rate": rate, "accuracy": g[method].mean(),
                        "random": g["random"].mean(), "minus_random": d.mean(),
                        "min": d.min(), "max": d.max(), "seeds": len(d)})  # fmt: skip
    return pd.DataFrame(out)
