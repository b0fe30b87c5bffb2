"""Redo a stored job and compare.

:func:`stored_job` rebuilds a job from the config in its result file (checking that it
rebuilds the key); :func:`rerun` retrains it from its committed selection, or retrains
its surrogate and chooses the coreset again, and compares the fields that should
reproduce (:data:`REPRODUCED_FIELDS`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.runs.cache import (
    Cache,
    atomic_write_json,
    default_cache_dir,
    load_selection,
    load_weights,
    read_json_checked,
    save_selection,
    save_weights,
    selection_path,
)
from evalib.runs.config import Job, config_key, job_from_dict, surrogate_from_dict
from evalib.runs.runner import load_data, positions_of, run_job
from evalib.runs.tasks import Task, run_task, task_class, task_from_record

REPRODUCED_FIELDS = ("paper_val_acc", "clean_test_acc", "final_val_acc", "steps", "indices_sha256")


def stored_job(result_path: str | os.PathLike) -> tuple[Job | Task, dict[str, Any]]:
    """(job or study task, stored result) of a ``results/<profile>/jobs/<key>.json`` file,
    checked to be a complete record whose config rebuilds its key; one-line EvalibError
    otherwise."""
    path = Path(result_path)
    if path.is_dir() or not path.exists():
        raise EvalibError(
            f"{path} is not a job result file ({'a folder' if path.exists() else 'not found'})"
        )
    stored = read_json_checked(path)
    if stored is None:
        raise EvalibError(f"{path} is not a valid job result (unreadable, corrupt or not evalib's)")
    config = stored.get("config")
    if stored.get("kind", "job") != "job":
        try:
            task = task_from_record(stored)
        except EvalibError as exc:
            raise EvalibError(f"{path}: {exc}") from None
        missing = [f for f in task.reproduced if f not in stored]
        if missing:
            raise EvalibError(f"{path} lacks the stored fields {', '.join(missing)}")
        return task, stored
    needed = {"data", "selection", "surrogate", "model", "recipe", "seed"}
    if not isinstance(config, dict) or not needed <= set(config) or "key" not in stored:
        raise EvalibError(
            f"{path} holds no job config (it is not a results/<profile>/jobs/<key>.json "
            "record; surrogate and other records cannot be rerun)"
        )
    missing = [f for f in REPRODUCED_FIELDS if f not in stored]
    if missing:
        raise EvalibError(f"{path} lacks the stored fields {', '.join(missing)}")
    try:
        job = job_from_dict(config)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EvalibError(
            f"{path}: its job config cannot be read ({type(exc).__name__}: {exc})"
        ) from exc
    if job.key() != stored["key"]:
        raise EvalibError(
            f"{path} was written under another cache schema or config "
            f"(key {stored['key']}, rebuilt {job.key()}); re-key its folder with evalib.runs.rerun.migrate"
        )
    return job, stored


def rerun(
    result_path: str | os.PathLike,
    scratch: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
    stage: str = "training",
) -> dict[str, tuple[Any, Any]]:
    """Redo a stored job in a fresh cache; {field: (stored, new)}.

    ``stage="training"`` retrains from the committed selection (``selections/`` beside
    the result's ``jobs/`` folder) when it is there, so no surrogate is needed; without
    it, and with ``stage="selection"``, the surrogate is retrained and the coreset chosen
    again, and the fields ``jaccard`` (of the two coresets) and, when the original
    dynamics are still in the default cache, ``spearman`` (of the two score vectors) are
    added. Uses the stored torch thread count, since CPU float reductions depend on it.
    """
    import torch

    if stage not in ("training", "selection"):
        raise EvalibError(f"stage must be 'training' or 'selection', got {stage!r}")
    job, stored = stored_job(result_path)
    threads = stored.get("torch_threads", 1)
    threads = threads if isinstance(threads, int) and not isinstance(threads, bool) else 1
    torch.set_num_threads(max(1, threads))
    home = Cache(Path(result_path).resolve().parent.parent, default_cache_dir())
    fresh = Cache.at(Path(scratch) / "results", Path(scratch) / "scratch")
    if isinstance(job, Task):  # a study task recomputes everything it needs
        new = run_task(job, _with_results(fresh, home), data_root, progress, store=False)
        compared = {f: (stored.get(f), new.get(f)) for f in job.reproduced}
        compared["stage"] = ("task", "task")
        return compared
    _bring_inputs(job, home, fresh)
    digest = stored.get("indices_sha256")
    committed = None
    if (
        job.selection is not None
        and digest
        and selection_path(home, job.data.dataset, digest).exists()
    ):
        committed = load_selection(home, job.data.dataset, digest)
    if stage == "training" and (committed is not None or job.selection is None):
        _, train_split, ids, _, _ = load_data(job.data, data_root)
        positions = (
            np.arange(len(ids), dtype=np.int64)
            if committed is None
            else positions_of(committed, ids)
        )
        new = run_job(job, fresh, data_root, progress=progress, positions=positions)
        compared = {f: (stored.get(f), new.get(f)) for f in REPRODUCED_FIELDS}
        compared["stage"] = ("training", "training")
        return compared
    new = run_job(job, fresh, data_root, progress=progress)
    compared = {f: (stored.get(f), new.get(f)) for f in REPRODUCED_FIELDS}
    compared["stage"] = ("selection+training", "selection+training")
    if committed is not None:
        again = load_selection(fresh, job.data.dataset, new["indices_sha256"])
        inter = len(np.intersect1d(committed, again))
        compared["jaccard"] = (1.0, inter / max(1, len(np.union1d(committed, again))))
    if job.surrogate is not None and job.method not in ("random", "given"):
        compared.update(_score_agreement(job, home, fresh))
    return compared


def _bring_inputs(job: Job, home: Cache, fresh: Cache) -> None:
    """Copy into ``fresh`` what ``job`` names by digest and cannot recompute: its loss
    weights and, for a ``given`` selection, its samples (from the stored results)."""
    from evalib.data import dataset_info

    dataset = job.data.dataset
    if job.weights is not None:
        save_weights(fresh, dataset, load_weights(home, dataset, job.weights))
    if job.selection is not None and job.selection.method == "given":
        digest = str(job.selection.param_dict()["digest"])
        ids = load_selection(home, dataset, digest)
        save_selection(fresh, dataset, ids, dataset_info(dataset).n_samples[0])


def _with_results(fresh: Cache, home: Cache) -> Cache:
    """The fresh scratch folder over the stored results folder: a task reads the inputs
    committed there (stored selections, weights) and recomputes the rest in scratch; with
    ``store=False`` nothing is written to the results."""
    return Cache(home.results, fresh.scratch)


def _score_agreement(job: Job, home: Cache, fresh: Cache) -> dict[str, tuple[Any, Any]]:
    """Spearman correlation of the job's scores on the original and the rerun surrogate,
    when both dynamics are on this machine."""
    from scipy import stats

    from evalib.dynamics import load as load_dynamics
    from evalib.scores import compute_scores

    original = home.surrogate_dir(job.surrogate)
    if not (original / "meta.json").exists():
        return {}
    params = job.selection.param_dict()
    params = {k: v for k, v in params.items() if k not in ("beta", "n_strata")}
    name = "aum" if job.method == "ccs" else job.method
    a = compute_scores(name, load_dynamics(original), **params)
    b = compute_scores(name, load_dynamics(fresh.surrogate_dir(job.surrogate)), **params)
    return {"spearman": (1.0, float(stats.spearmanr(a, b).statistic))}


# ----------------------------------------------------------------------------- migrate


def migrate(results: str | os.PathLike) -> dict[str, int]:
    """Re-key every job, study task and surrogate record under ``results`` from its stored
    config to the current :data:`~evalib.runs.config.SCHEMA` (no retraining); returns counts of
    files kept, moved, skipped."""
    counts = {"kept": 0, "moved": 0, "skipped": 0}
    for folder in ("jobs", "surrogates"):
        for path in sorted((Path(results) / folder).glob("*.json")):
            row = read_json_checked(path)
            if row is None or not isinstance(row.get("config"), dict):
                counts["skipped"] += 1
                continue
            kind = "surrogate" if folder == "surrogates" else row.get("kind", "job")
            if kind == "surrogate":
                key = config_key(kind, surrogate_from_dict(row["config"]))
            elif kind == "job":
                key = config_key(kind, job_from_dict(row["config"]))
            else:
                key = task_class(kind).from_config(row["config"]).key()
            if key == row.get("key") and path.stem == key:
                counts["kept"] += 1
                continue
            atomic_write_json(path.with_name(f"{key}.json"), {**row, "key": key})
            if path.stem != key:
                path.unlink()
            counts["moved"] += 1
    return counts
