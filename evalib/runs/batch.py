"""Lists of jobs: build a Table-1 style grid (:func:`benchmark_jobs`), run the missing
jobs of a list on an executor, surrogates first (:func:`run_jobs`), read the cached ones
without training (:func:`collect`), and the results table of their rows.

The executors (:mod:`evalib.runs.executors`) get the work as picklable callables
(:class:`_JobCall`, :class:`_SurrogateCall`) that say how big each item is, so they need
to know nothing of the runner.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalib.progress import JobProgress, duration, log_job_line
from evalib.runs.cache import Cache, _selection_stored, read_selection_index
from evalib.runs.config import Job, ModelSpec, Profile, SelectionSpec, SurrogateConfig
from evalib.runs.costs import train_size
from evalib.runs.executor_base import Executor
from evalib.runs.executors import SerialExecutor, make_executor
from evalib.runs.locks import POLL_S, JobHeld, held_by
from evalib.runs.packing import JobSize
from evalib.runs.runner import run_job, run_surrogate
from evalib.runs.tasks import Task, run_task


def benchmark_jobs(
    profile: Profile,
    dataset: str,
    methods: Sequence[str | tuple[str, Mapping[str, Any]]],
    rates: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    include_full: bool = True,
    model: ModelSpec | None = None,
    min_steps: int = 0,
) -> list[Job]:
    """Jobs of a Table-1 style grid: every method × rate × seed, plus the full dataset.

    Seed ``s`` selects with its own surrogate (:meth:`Profile.surrogate_config`), so
    intervals over seeds include the variance of the selection; ``methods`` items are
    names or (name, params) pairs; ``min_steps`` sets the floor budget of the coresets.
    """
    data = profile.data_spec(dataset)
    model = model or profile.model
    rates = tuple(rates or profile.rates)
    seeds = tuple(profile.seeds if seeds is None else seeds)
    jobs = []
    for seed in seeds:
        surrogate = profile.surrogate_config(dataset, seed)
        if include_full:
            jobs.append(Job(data, None, None, model, profile.recipe, seed))
        for item in methods:
            name, params = (item, {}) if isinstance(item, str) else item
            for rate in rates:
                sel = SelectionSpec.make(name, rate, **dict(params))
                jobs.append(Job(data, sel, surrogate, model, profile.recipe, seed,
                                min_steps=min_steps))  # fmt: skip
    return jobs


@dataclass(frozen=True)
class Held:
    """What a worker returns for a job that another runner is training (its lock is held
    by a live process): the batch comes back to it later (see :func:`run_jobs`)."""

    key: str
    holder: str


@dataclass(frozen=True)
class _JobCall:
    cache: Cache
    data_root: str | None
    device: str | None
    threads: int | None

    def __call__(self, job: Job | Task) -> dict[str, Any] | Held:
        try:
            if isinstance(job, Task):
                return run_task(job, self.cache, self.data_root, False, self.device,
                                self.threads, wait=False)  # fmt: skip
            return run_job(job, self.cache, self.data_root, False, self.device, self.threads,
                           wait=False)  # fmt: skip
        except JobHeld as held:  # another runner trains it: not started twice
            return Held(held.key, held.holder.describe())

    def job_size(self, job: Job | Task) -> JobSize:
        """What the executors pack jobs onto devices by (see evalib.runs.packing)."""
        if isinstance(job, Task):
            return job.size()
        return JobSize(train_size(job), job.model.name, job.model.width)


@dataclass(frozen=True)
class _SurrogateCall:
    """Records one surrogate into the cache on a (possibly remote) worker; returns its key."""

    cache: Cache
    data_root: str | None
    device: str | None
    threads: int | None

    def __call__(self, cfg: SurrogateConfig) -> str:
        run_surrogate(cfg, self.cache, self.data_root, False, self.device, self.threads)
        return cfg.key()

    def job_size(self, cfg: SurrogateConfig) -> JobSize:
        from evalib.data import dataset_info

        n = cfg.data.train_subset or dataset_info(cfg.data.dataset).n_samples[0]
        return JobSize(n, cfg.model.name, cfg.model.width, record=True)


def run_jobs(
    jobs: Sequence[Job | Task],
    cache: Cache,
    data_root: str | os.PathLike | None = None,
    executor: Executor | str = "serial",
    device: str | None = None,
    threads: int | None = None,
    progress: bool = True,
    poll_s: float = POLL_S,
) -> pd.DataFrame:
    """Run every job (or study :class:`~evalib.runs.tasks.Task`) not yet cached, surrogates
    first, once each; one row per job.

    Several runners may share one results folder: a job that another live process is
    training (its lock is held, :mod:`evalib.runs.locks`) is not started here; the others
    run first, then its result is waited for (looked for every ``poll_s`` seconds) and
    read from the cache, or, when that runner stopped without it, the job runs here."""
    if isinstance(executor, str):
        executor = make_executor(executor)
    unique = list(dict.fromkeys(jobs))
    todo = [j for j in unique if cache.job_result(j) is None]
    coreset_jobs = [j for j in todo if isinstance(j, Job)]
    stored = {d: read_selection_index(cache, d) for d in {j.data.dataset for j in coreset_jobs}}
    surrogates = list(dict.fromkeys(  # only for coresets no earlier run has stored
        j.surrogate for j in coreset_jobs
        if j.surrogate is not None and j.method not in ("random", "given")
        and not _selection_stored(j, cache, stored[j.data.dataset])
    ))  # fmt: skip
    root = None if data_root is None else str(data_root)
    if not isinstance(executor, SerialExecutor):  # record them in parallel on the workers
        missing = [c for c in surrogates if not (cache.surrogate_dir(c) / "meta.json").exists()]
        for _ in executor.run(_SurrogateCall(cache, root, device, threads), missing):
            pass
        for cfg in surrogates:  # keeps their records with the results
            run_surrogate(cfg, cache, data_root, False, device, threads)
    else:
        for i, cfg in enumerate(surrogates, 1):
            cached = (cache.surrogate_dir(cfg) / "meta.json").exists()
            t0 = time.perf_counter()
            run_surrogate(cfg, cache, data_root, progress, device, threads)
            if progress and not cached:
                log_job_line(f"surrogate {i}/{len(surrogates)} recorded ({cfg.data.dataset}, "
                             f"seed {cfg.seed}) in {duration(time.perf_counter() - t0)}")  # fmt: skip
    call = _JobCall(cache, root, device, threads)
    with JobProgress(len(unique), len(unique) - len(todo), progress) as jp:
        # an executor that accepts the bar adds running / queued / failed counts to it
        takes_bar = getattr(executor, "accepts_bar", False)
        pending = todo
        while pending:
            held = {}
            rows = (
                executor.run(call, pending, bar=jp.bar)
                if takes_bar
                else executor.run(call, pending)
            )
            for row in rows:
                if isinstance(row, Held):
                    held[row.key] = row
                else:
                    jp.update(row)
            if not held:
                break
            # jobs that other runners train on this results folder: wait for their results,
            # and run those whose runner stopped without one
            waiting = [j for j in pending if j.key() in held]
            if progress:
                first = next(iter(held.values()))
                log_job_line(f"{len(waiting)} jobs are being trained by another runner "
                             f"({first.holder}); waiting for their results")  # fmt: skip
            pending = []
            while waiting and not pending:
                time.sleep(poll_s)
                for job in list(waiting):
                    row = cache.job_result(job)
                    if row is not None:
                        waiting.remove(job)
                        jp.update(row)
                    elif _lock_free(cache, job):
                        waiting.remove(job)
                        pending.append(job)
    return results_table([cache.job_result(j) for j in unique])


def _lock_free(cache: Cache, job: Job | Task) -> bool:
    """True when no live runner holds ``job``'s lock (none, or a stale one)."""
    path = cache.job_path(job)
    return held_by(path.with_name(f"{path.stem}.lock")) is None


def results_table(rows: Iterable[Mapping[str, Any] | None]) -> pd.DataFrame:
    """One row per job result, without the bulky history and config columns."""
    keep = [dict(r) for r in rows if r is not None]
    frame = pd.DataFrame(keep)
    return frame.drop(columns=[c for c in ("history", "config") if c in frame.columns])


def collect(jobs: Sequence[Job | Task], cache: Cache) -> tuple[pd.DataFrame, list[Job]]:
    """Results of the ``jobs`` already in the cache (nothing is trained) and those missing."""
    unique = list(dict.fromkeys(jobs))
    found = {j: cache.job_result(j) for j in unique}
    return results_table(found.values()), [j for j, r in found.items() if r is None]
