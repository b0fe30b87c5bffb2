"""The cached runner of one job: surrogate → selection → training → result row.

:func:`run_surrogate` records a surrogate's dynamics once (then reads them from the
cache); :func:`run_job` chooses a job's coreset (reusing one an earlier run stored),
trains and evaluates the model and writes its row, with its provenance, to the cache.
Lists of jobs are run by :func:`evalib.runs.batch.run_jobs`.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from evalib import __version__
from evalib.errors import EvalibError
from evalib.progress import log_job_line
from evalib.runs.cache import (
    Cache,
    atomic_write_json,
    indices_digest,
    load_selection,
    load_weights,
    read_json_checked,
    save_selection,
    store_selection,
    stored_selection,
)
from evalib.runs.config import DataSpec, Job, SurrogateConfig
from evalib.runs.costs import effective_recipe
from evalib.runs.locks import run_once

# ----------------------------------------------------------------------------- surrogates


def load_data(spec: DataSpec, data_root: str | os.PathLike | None = None):
    """(dataset, train split, train ids, val split, test split) for a DataSpec.

    A process keeps the last two datasets it loaded (:func:`_load_file`), keyed by the file's
    path, size and modification time, so a worker that runs a grid of small jobs reads and
    checks each file once. The splits are shared between those jobs: nothing may write
    into their tensors (the trainer and evaluation only read them)."""
    from evalib.data import dataset_info, locate

    path = locate(dataset_info(spec.dataset).flag, data_root)
    stat = path.stat()
    return _load_file(spec, str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _load_file(spec: DataSpec, path: str, size: int, mtime_ns: int):
    """:func:`load_data` of the file at ``path`` (``size`` and ``mtime_ns`` key its version)."""
    from evalib.data import load, stratified_subset

    ds = load(spec.dataset, Path(path).parent)
    parts = {}
    for name, n in (
        ("train", spec.train_subset),
        ("val", spec.val_subset),
        ("test", spec.test_subset),
    ):
        split = ds.split(name)
        ids = (
            np.arange(len(split), dtype=np.int64)
            if n is None
            else stratified_subset(split.labels, n, seed=0)
        )
        parts[name] = (split.subset(ids) if n is not None else split, ids)
    return ds, parts["train"][0], parts["train"][1], parts["val"][0], parts["test"][0]


def run_surrogate(
    cfg: SurrogateConfig,
    cache: Cache,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
    device: str | None = None,
    threads: int | None = None,
    checkpoint_every_s: float | None = None,
):
    """Dynamics of ``cfg`` (recorded once, then read from the cache, memory-mapped).
    ``checkpoint_every_s``: seconds between checkpoints (see :func:`evalib.train.train`).
    While another process records the same surrogate into the same scratch folder, this
    one waits for it (see :mod:`evalib.runs.locks`)."""
    from evalib.dynamics import load as load_dynamics

    out = cache.surrogate_dir(cfg)

    def cached():
        if (out / "meta.json").exists():
            try:
                dyn = load_dynamics(out)
                _record_surrogate(cfg, cache, dyn)
                return dyn
            except EvalibError:
                pass  # torn or corrupt: recompute
        return None

    def record():
        return _record_surrogate_run(cfg, cache, data_root, progress, device, threads,
                                     checkpoint_every_s)  # fmt: skip

    def waiting(holder) -> None:
        log_job_line(f"waiting for surrogate {cfg.key()} ({cfg.data.dataset}, seed {cfg.seed}), "
                     f"which another runner records ({holder.describe()})")  # fmt: skip

    # one runner per surrogate: another process recording it is waited for (jobs need it)
    lock = out.with_name(f"{out.name}.lock")
    return run_once(lock, f"surrogate {cfg.key()}", cached, record, on_wait=waiting)


def _record_surrogate_run(cfg, cache, data_root, progress, device, threads, checkpoint_every_s):
    """Train the surrogate ``cfg`` and save its dynamics into the cache (see run_surrogate)."""
    from evalib.dynamics import load as load_dynamics
    from evalib.dynamics import save as save_dynamics
    from evalib.models import build_model
    from evalib.train import seed_everything

    out = cache.surrogate_dir(cfg)
    ds, train_split, ids, val, test = load_data(cfg.data, data_root)
    seed_everything(cfg.seed)
    model = build_model(cfg.model.name, ds.info.n_channels, ds.info.n_classes, cfg.model.width)
    ckpt = cache.checkpoint_dir("surrogate", cfg.key())
    result = _train_resumable(
        ckpt,
        model=model,
        train_split=train_split,
        recipe=cfg.recipe,
        seed=cfg.seed,
        val=val,
        test=test,
        sample_ids=ids,
        eval_pass_epochs=(-1,),
        device=device,
        threads=threads,
        checkpoint_every_s=checkpoint_every_s,
        progress=progress,
        desc=f"surrogate {cfg.data.dataset} {cfg.model.name}",
        meta={
            "dataset": cfg.data.dataset,
            "model": asdict(cfg.model),
            "data": asdict(cfg.data),
            "key": cfg.key(),
            "evalib_version": __version__,
        },
    )
    dyn = result.dynamics.with_meta(history=result.history, seconds=result.seconds)
    save_dynamics(dyn, out)
    _rmtree(ckpt)
    _record_surrogate(cfg, cache, dyn)
    return load_dynamics(out)


def _record_surrogate(cfg: SurrogateConfig, cache: Cache, dyn) -> None:
    """Keep the small facts of a surrogate run (history, time, shape) with the results."""
    path = cache.results / "surrogates" / f"{cfg.key()}.json"
    if read_json_checked(path) is None:
        atomic_write_json(path, {
            "key": cfg.key(), "config": asdict(cfg), "shape": list(dyn.shape),
            "history": dyn.meta.get("history", []), "seconds": dyn.meta.get("seconds"),
            "device": dyn.meta.get("device"), "evalib_version": __version__,
            "provenance": provenance(dyn.meta.get("device")),
        })  # fmt: skip


def surrogate_record(cfg: SurrogateConfig, cache: Cache) -> dict[str, Any] | None:
    """The stored facts of a surrogate run (see :func:`run_surrogate`), or None."""
    return read_json_checked(cache.results / "surrogates" / f"{cfg.key()}.json")


def select_for_job(
    job: Job, dynamics, train_ids: np.ndarray, train_labels: np.ndarray, cache: Cache | None = None
) -> np.ndarray:
    """Sorted positions (into the job's training split) of the coreset of ``job``.

    Sorting makes the training set a pure function of *which* samples were chosen, so a
    committed selection (:func:`~evalib.runs.cache.save_selection`) reproduces the run exactly.
    """
    from evalib.scores import compute_scores
    from evalib.select import select

    sel = job.selection
    if sel is None:
        return np.arange(len(train_ids), dtype=np.int64)
    if sel.method == "given":  # explicit samples, stored in the cache by digest
        if cache is None:
            raise EvalibError("a 'given' selection needs the cache that holds it")
        chosen_ids = load_selection(cache, job.data.dataset, str(sel.param_dict()["digest"]))
        return positions_of(chosen_ids, train_ids)
    if dynamics is not None and not np.array_equal(np.asarray(dynamics.sample_ids), train_ids):
        raise EvalibError(
            "the dynamics were recorded on other samples than this job's training split "
            f"({dynamics.num_samples} vs {len(train_ids)}); use the same DataSpec"
        )
    if dynamics is None:  # random needs no surrogate
        source = compute_scores(sel.method, len(train_ids), seed=job.seed)
        extra = {"labels": train_labels, "sample_ids": train_ids}
    else:
        source, extra = dynamics, sel.param_dict()
    chosen = select(
        sel.method,
        source,
        sel.rate,
        seed=job.seed,
        class_balanced=sel.class_balanced,
        rounding=sel.rounding,
        quota=sel.quota,
        **extra,
    )
    return np.sort(np.asarray(chosen.indices, dtype=np.int64))


def positions_of(chosen_ids: np.ndarray, train_ids: np.ndarray) -> np.ndarray:
    """Sorted positions in ``train_ids`` of the sample ids ``chosen_ids`` (all must occur)."""
    where = np.flatnonzero(np.isin(train_ids, chosen_ids))
    if len(where) != len(np.unique(chosen_ids)):
        raise EvalibError(
            f"{len(np.unique(chosen_ids)) - len(where)} chosen sample ids are not in the "
            "training split of this job"
        )
    return where.astype(np.int64)


def provenance(device: Any = None) -> dict[str, Any]:
    """What produced a result: torch version and build, device, CPU capability and model,
    torch threads, Python and platform."""
    import platform

    import torch

    cpu_name = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu_name = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                cpu_name,
            )
    except OSError:
        pass
    dev = str(device) if device is not None else "cpu"
    info = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": dev,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu_name,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "evalib_version": __version__,
    }
    if dev.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(dev))
    return info


# ----------------------------------------------------------------------------- jobs


def _load_for_job(job: Job, cache: Cache, data_root, progress, device, threads,
                  checkpoint_every_s=None):  # fmt: skip
    """(dataset, train split, train ids, val, test, coreset positions) of ``job``.

    A coreset stored by an earlier run (:func:`~evalib.runs.cache.stored_selection`) is reused,
    so the surrogate is retrained only for selections nobody has made yet.
    """
    needs_dynamics = job.selection is not None and job.selection.method not in ("random", "given")
    if needs_dynamics and job.surrogate is None:
        raise EvalibError(f"method {job.method!r} needs a surrogate run; none was given")
    stored = stored_selection(job, cache) if needs_dynamics else None
    dynamics = None
    if needs_dynamics and stored is None:
        dynamics = run_surrogate(
            job.surrogate, cache, data_root, progress, device, threads, checkpoint_every_s
        )
    ds, train_split, ids, val, test = load_data(job.data, data_root)
    if stored is not None:
        positions = positions_of(stored, ids)
    else:
        positions = select_for_job(job, dynamics, ids, train_split.labels.numpy(), cache)
        if needs_dynamics:
            store_selection(job, cache, ids[positions], ds.info.n_samples[0])
    return ds, train_split, ids, val, test, positions


def run_job(
    job: Job,
    cache: Cache,
    data_root: str | os.PathLike | None = None,
    progress: bool = False,
    device: str | None = None,
    threads: int | None = None,
    positions: np.ndarray | None = None,
    checkpoint_every_s: float | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Train and evaluate ``job`` (or read its cached result); returns one result row.

    ``positions`` (sorted, into the job's training split) replaces the selection step,
    as :func:`evalib.runs.rerun.rerun` does with a committed selection; the row is then not
    cached.
    ``checkpoint_every_s``: seconds between checkpoints (see :func:`evalib.train.train`).

    One runner per job: the job is trained under a lock beside its result file
    (:mod:`evalib.runs.locks`). When another live process holds it, ``wait`` waits for
    that result (or for the lock to go); ``wait=False`` raises
    :class:`~evalib.runs.locks.JobHeld` at once, for a batch that comes back to the job later.
    """
    if positions is not None:
        return _run_job(job, cache, data_root, progress, device, threads, positions,
                        checkpoint_every_s)  # fmt: skip
    path = cache.job_path(job)
    return run_once(
        path.with_name(f"{path.stem}.lock"),
        job.key(),
        lambda: cache.job_result(job),
        lambda: _run_job(
            job, cache, data_root, progress, device, threads, None, checkpoint_every_s
        ),  # fmt: skip
        wait=wait,
    )


def _run_job(job, cache, data_root, progress, device, threads, positions, checkpoint_every_s):
    """The body of :func:`run_job`: select, train, evaluate; the row is cached unless
    ``positions`` were given."""
    given = positions is not None
    t0 = time.perf_counter()
    if positions is None:
        ds, train_split, ids, val, test, positions = _load_for_job(
            job, cache, data_root, progress, device, threads, checkpoint_every_s
        )
    else:
        ds, train_split, ids, val, test = load_data(job.data, data_root)
    row = _train_job(job, cache, ds, train_split, ids, val, test, positions,
                     progress, device, threads, t0, checkpoint_every_s)  # fmt: skip
    if not given:
        atomic_write_json(cache.job_path(job), row)
    # only now: a kill before the row is written resumes from the finished checkpoint
    _rmtree(cache.checkpoint_dir("job", job.key()))
    return row


def _train_job(job, cache, ds, train_split, ids, val, test, positions, progress, device,
               threads, t0, checkpoint_every_s=None) -> dict[str, Any]:  # fmt: skip
    from evalib.models import build_model
    from evalib.train import seed_everything

    coreset = train_split.subset(positions)
    weights = None
    if job.weights is not None:
        weights = load_weights(cache, job.data.dataset, job.weights)
        if len(weights) != len(train_split):
            raise EvalibError(
                f"loss weights {job.weights} hold {len(weights)} values for a training split "
                f"of {len(train_split)} samples"
            )
        weights = weights[positions]
    recipe = effective_recipe(job, len(positions), len(train_split))
    seed_everything(job.seed)
    model = build_model(job.model.name, ds.info.n_channels, ds.info.n_classes, job.model.width)
    result = _train_resumable(
        cache.checkpoint_dir("job", job.key()),
        model=model,
        train_split=coreset,
        recipe=recipe,
        seed=job.seed,
        val=val,
        test=test,
        record=False,
        sample_weights=weights,
        device=device,
        threads=threads,
        checkpoint_every_s=checkpoint_every_s,
        progress=progress,
        desc=f"{job.method} {job.rate:.0%} s{job.seed}",
    )
    per_class = class_accuracies(result.test_predictions, test.labels.numpy(), ds.info.n_classes)
    history = result.history
    evals = [h for h in history if "val_acc" in h]
    best = max(evals, key=lambda h: h["val_acc"])
    chosen_ids = ids[positions]
    digest = indices_digest(chosen_ids)
    if job.selection is not None:
        save_selection(cache, job.data.dataset, chosen_ids, ds.info.n_samples[0])
    return {
        "key": job.key(),
        "dataset": job.data.dataset,
        "method": job.method,
        "rate": job.rate,
        "seed": job.seed,
        "model": job.model.name,
        "width": job.model.width,
        "params": dict(job.selection.params) if job.selection else {},
        "budget": job.budget if not job.min_steps else f"min{job.min_steps}",
        "n_train": int(len(positions)),
        "steps": int(result.steps),
        "epochs": int(history[-1]["epoch"] + 1),
        # paper protocol: best validation accuracy over the periodic evaluations
        "paper_val_acc": float(best["val_acc"]),
        # clean protocol: test accuracy of the final model
        "clean_test_acc": float(history[-1]["test_acc"]),
        "final_val_acc": float(history[-1]["val_acc"]),
        "final_train_acc": float(history[-1]["train_acc"]),
        # final model on test, per class (None: no test image of that class)
        "test_per_class": per_class,
        "test_worst_class_acc": min(a for a in per_class if a is not None),
        "best_val_epoch": int(best["epoch"]),
        "indices_sha256": digest,
        "seconds": float(time.perf_counter() - t0),
        "train_seconds": float(result.seconds),
        "torch_threads": provenance(device)["threads"],
        "provenance": provenance(result.meta.get("device", device)),
        "history": history,
        "config": asdict(job),
        "evalib_version": __version__,
    }


def class_accuracies(preds: np.ndarray, labels: np.ndarray, n_classes: int) -> list[float | None]:
    """Accuracy of predictions ``preds`` [N] against ``labels`` [N] in each class (fractions;
    None where no label is of the class). The runner passes the final model's test
    predictions from training's last test pass (``TrainResult.test_predictions``)."""
    from evalib.metrics import per_class_accuracy

    pc = per_class_accuracy(preds, labels, n_classes)
    return [None if np.isnan(v) else float(v) for v in pc]


def _train_resumable(ckpt: Path, **kwargs):
    """``train`` with a checkpoint folder keyed by config; a folder left by an older evalib
    (whose fingerprint no longer matches) is discarded and the run starts afresh."""
    from evalib.checkpoints import CheckpointMismatch
    from evalib.train import train

    try:
        return train(checkpoint_dir=ckpt, **kwargs)
    except CheckpointMismatch:
        _rmtree(ckpt)
        return train(checkpoint_dir=ckpt, **kwargs)


def _rmtree(path: Path) -> None:
    """Remove a checkpoint folder: renamed away first (atomic), so a kill during the removal
    never leaves a torn folder under the name a later run would resume from."""
    import shutil

    if not path.exists():
        return
    doomed = path.with_name(f".{path.name}.removing-{os.getpid()}")
    try:
        path.rename(doomed)
    except OSError:
        doomed = path
    shutil.rmtree(doomed, ignore_errors=True)
