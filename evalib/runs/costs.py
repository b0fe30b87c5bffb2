"""A job's training budget and what jobs cost.

:func:`effective_recipe` is the recipe a coreset trains with (the paper's epochs, the
full run's iterations, or a floor on optimiser steps); :func:`train_size` its number of
training images; :func:`estimate_seconds` the time missing jobs should take, learnt from
the done ones; :func:`write_compute` the compute table a notebook records.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from evalib.io import atomic_file
from evalib.runs.config import Job
from evalib.train import Recipe


def effective_recipe(job: Job, n_train: int, n_full: int) -> Recipe:
    """The recipe ``job`` trains with on ``n_train`` images (``n_full``: its whole split).

    ``budget="iterations"`` trains a coreset for as many steps as the full run; a
    ``min_steps`` floor raises a coreset's steps to at least that many, with evaluations
    spread so that it is evaluated about as often as under the paper's budget.
    """
    recipe = job.recipe
    if job.selection is None:
        return recipe
    if job.budget == "iterations":
        recipe = replace(recipe, iterations=recipe.total_steps(n_full), epochs=1)
    if job.min_steps and recipe.total_steps(n_train) < job.min_steps:
        evals = math.ceil(recipe.num_epochs(n_train) / recipe.eval_every)
        epochs = math.ceil(job.min_steps / recipe.steps_per_epoch(n_train))
        every = max(1, math.ceil(epochs / max(1, evals)))
        recipe = replace(recipe, iterations=job.min_steps, eval_every=every)
    return recipe


def train_size(job: Job) -> int:
    """Training images of ``job``: its selection's budget of the (subset) training split."""
    from evalib.data import dataset_info
    from evalib.ranking import budget

    n = job.data.train_subset or dataset_info(job.data.dataset).n_samples[0]
    if job.selection is None:
        return n
    return budget(n, job.selection.rate, job.selection.rounding)


def estimate_seconds(done: pd.DataFrame, missing: Sequence[Job]) -> float:
    """Seconds the ``missing`` jobs should take, from the ``done`` ones (a results table):
    per (dataset, model, width), the median seconds per training image-epoch of the done
    jobs, times each missing job's images × epochs. NaN when a missing job has no done
    job of its (dataset, model, width) to learn from."""
    if not missing:
        return 0.0
    if done.empty:
        return math.nan
    rate = (done["seconds"] / (done["n_train"] * done["epochs"])).groupby(
        [done["dataset"], done["model"], done["width"]]
    ).median()  # fmt: skip
    total = 0.0
    for job in missing:
        per = rate.get((job.data.dataset, job.model.name, job.model.width), math.nan)
        n = train_size(job)
        full = train_size(replace(job, selection=None))
        total += per * n * effective_recipe(job, n, full).num_epochs(n)
    return float(total)


def write_compute(
    path: str | os.PathLike, notebook: str, parts: Mapping[str, tuple[int, float]]
) -> pd.DataFrame:
    """Record what a notebook's runs cost as they were computed (cached runs keep their
    original time): ``parts`` maps a label to (number of runs, seconds). Written as CSV
    (notebook, part, runs, CPU-hours) for the compute table of the claims page."""
    frame = pd.DataFrame(
        [{"notebook": notebook, "part": k, "runs": int(n), "CPU-hours": float(sec) / 3600}
         for k, (n, sec) in parts.items()]
    )  # fmt: skip
    with atomic_file(Path(path), "w") as fh:
        frame.to_csv(fh, index=False)
    return frame
