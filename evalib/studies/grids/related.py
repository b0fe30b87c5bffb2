"""The related systems' studies (notebooks 07–09): PIE's pruned networks and trainings,
the DAD segmentation tasks and classification jobs, the distillation tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from evalib.errors import EvalibError
from evalib.runs.batch import benchmark_jobs
from evalib.runs.cache import Cache, save_selection, save_weights
from evalib.runs.config import Job, Profile, SelectionSpec
from evalib.runs.tasks import Task
from evalib.studies.grids.coresets import (
    Planned,
    _job,
)

# ----------------------------------------------------------------------------- PIE (notebook 07)


def pie_profile(profile: Profile, sparsities: Sequence[float] | None = None,
                lams: Sequence[float] | None = None,
                coreset_rates: Sequence[float] | None = None) -> Profile:  # fmt: skip
    """``profile`` with its PIE settings (``profile.pie``) changed where a notebook
    parameter is given (None keeps the profile's)."""
    cfg = _pie_settings(profile)
    changes = {k: tuple(float(v) for v in vals) for k, vals in
               (("sparsities", sparsities), ("lams", lams), ("coreset_rates", coreset_rates))
               if vals is not None}  # fmt: skip
    return replace(profile, pie=replace(cfg, **changes)) if changes else profile


def _pie_settings(profile: Profile):
    if profile.pie is None:
        raise EvalibError(f"profile {profile.name!r} has no PIE settings (Profile.pie)")
    return profile.pie


def pie_prune(profile: Profile, dataset: str) -> list:
    """The PIE study's prune tasks (:class:`evalib.studies.pie.PruneTask`): dense networks of
    seeds 0 … K−1 (K = ``profile.pie.dense_models``) of the profile's network and recipe,
    each pruned at the profile's sparsities with its fine-tune."""
    from evalib.studies.pie import PruneTask

    cfg = _pie_settings(profile)
    data = profile.data_spec(dataset)
    return [PruneTask.of(cfg, data, profile.model, profile.recipe, k)
            for k in range(cfg.dense_models)]  # fmt: skip


def pie_prune_rows(profile: Profile, dataset: str, cache: Cache) -> list[dict] | None:
    """The rows of :func:`pie_prune` in ``cache``, or None while one is missing."""
    rows = [cache.job_result(t) for t in pie_prune(profile, dataset)]
    return None if any(r is None for r in rows) else rows


def pie_trainings(profile: Profile, dataset: str, cache: Cache,
                  seeds: Sequence[int] | None = None) -> list[Planned]:  # fmt: skip
    """The PIE study's trainings, all plain jobs, once every :func:`pie_prune` row is in
    ``cache`` (empty before), with the HTL scores of those rows:

    * arm ``coreset:pie``: the highest-HTL coreset at each rate of
      ``profile.pie.coreset_rates`` (None: the profile's rates), stored with the results
      (:func:`~evalib.runs.cache.save_selection`) and trained as a "given" selection; beside
      it ``coreset:random`` and ``coreset:eva`` (the published windows, seed ``s``
      selecting with its own surrogate), the very jobs of Table 1; on ``seeds`` (None:
      the profile's);
    * arm ``emphasis:uniform``: the full training set on the dense seeds 0 … K−1 (the
      dense networks' own job), and ``emphasis:weighted λ=<λ>``: the same with the
      per-sample loss weights 1 + λ·HTL stored with the results
      (:func:`~evalib.runs.cache.save_weights`), for each λ of ``profile.pie.lams``.

    Emphasis by oversampling is not declared: see :class:`evalib.runs.study_config.PIESettings`.
    """
    from evalib.data import dataset_info
    from evalib.studies import pie
    from evalib.studies.pie_tables import PIEResult

    rows = pie_prune_rows(profile, dataset, cache)
    if rows is None:
        return []
    cfg = _pie_settings(profile)
    htl = PIEResult.from_rows(rows).htl
    ids = np.asarray(rows[0]["sample_ids"], np.int64)
    n_total = dataset_info(dataset).n_samples[0]
    data = profile.data_spec(dataset)
    out = []
    for rate in cfg.coreset_rates or profile.rates:
        digest = save_selection(cache, dataset, ids[pie.htl_selection(htl, rate).indices],
                                   n_total)  # fmt: skip
        htl_sel = SelectionSpec.make("given", rate, digest=digest)
        for seed in profile.seeds if seeds is None else seeds:
            job = Job(data, htl_sel, None, profile.model, profile.recipe, seed)
            out.append(Planned("coreset:pie", "epochs", job))
            out.append(Planned("coreset:random", "epochs",
                               _job(profile, dataset, "random", {}, rate, seed, "epochs")))  # fmt: skip
            eva = _job(profile, dataset, "eva", dict(profile.eva_windows()), rate, seed, "epochs")
            out.append(Planned("coreset:eva", "epochs", eva))
    dense = [t.dense_job() for t in pie_prune(profile, dataset)]
    out += [Planned("emphasis:uniform", "epochs", job) for job in dense]
    for lam in cfg.lams:
        weights = save_weights(cache, dataset, pie.emphasis_weights(htl, lam))
        out += [Planned(f"emphasis:weighted λ={lam:g}", "epochs", replace(job, weights=weights))
                for job in dense]  # fmt: skip
    return out


# ----------------------------------------------------------------------------- segmentation


def seg_scoring(profile: Profile, dataset: str) -> Task:
    """Notebook 09's scoring run: the U-Net on every training mosaic of ``dataset``
    (``profile.segmentation``), seed 0, that DAD and pixel EL2N are read from."""
    from evalib.studies.segmentation import ScoringRun

    if profile.segmentation is None:
        raise EvalibError(f"profile {profile.name!r} has no segmentation settings")
    return ScoringRun.of(profile.segmentation, dataset)


def segmentation(profile: Profile, dataset: str, rates: Sequence[float] | None = None,
                 seeds: Sequence[int] | None = None) -> list[Task]:  # fmt: skip
    """Notebook 09's retrains: every pruning method × kept fraction × seed (default the
    ``profile.segmentation`` ones) on the scores of :func:`seg_scoring`, seeds outermost.
    Each reads the scoring row from the cache (computing it when missing): run
    ``[seg_scoring(...)]`` first when the retrains go to parallel workers."""
    from evalib.studies.mosaics import METHODS
    from evalib.studies.segmentation import Retrain

    cfg = profile.segmentation
    scoring = seg_scoring(profile, dataset)
    return [Retrain(scoring, method, float(rate), int(seed))
            for seed in (seeds or cfg.seeds) for rate in (rates or cfg.rates)
            for method in METHODS]  # fmt: skip


def dad_classification(profile: Profile, dataset: str,
                       seeds: Sequence[int] | None = None) -> list[Job]:  # fmt: skip
    """DAD's classification form as coresets next to EL2N (Table 1's parameters) and
    Random, at the two lowest and the highest of the profile's rates, every seed (the
    benchmark's jobs: same keys, same cache)."""
    rates = sorted({*sorted(profile.rates)[:2], max(profile.rates)})
    el2n = dict(profile.table1_methods())["el2n"]
    methods = [("dad", {}), ("el2n", el2n), ("random", {})]
    return benchmark_jobs(profile, dataset, methods, rates, seeds, include_full=False)


# ----------------------------------------------------------------------------- distillation


def distill_sets(
    profile: Profile, datasets: Sequence[str] | None = None, ipcs: Sequence[int] | None = None
) -> list:
    """The synthetic sets of the distillation page (:class:`evalib.studies.distill.SyntheticSet`):
    DM with ``profile.distill``'s settings on every dataset at every images-per-class
    budget (``datasets``, ``ipcs``: the settings' when None), seed 0."""
    from evalib.studies.distill import SyntheticSet

    cfg = profile.distill
    return [
        SyntheticSet(
            profile.data_spec(flag),
            int(ipc),
            cfg.iterations,
            cfg.batch_real,
            cfg.width,
            cfg.lr_img,
            cfg.momentum,
            cfg.dsa,
            seed=0,
        )  # fmt: skip
        for flag in datasets or cfg.datasets
        for ipc in ipcs or cfg.ipcs
    ]


def distill(
    profile: Profile, datasets: Sequence[str] | None = None, ipcs: Sequence[int] | None = None
) -> list:
    """Every task of the distillation page: the synthetic sets (:func:`distill_sets`),
    then per dataset, budget and evaluation seed (``range(eval_models)``) one evaluation
    network on the distilled, the random real and EVA's real images (EVA: the published
    windows on the profile's first surrogate), and per seed the full training split
    (``full_steps`` steps; none when 0)."""
    from evalib.studies.distill import Evaluation

    cfg = profile.distill
    sets = distill_sets(profile, datasets, ipcs)
    kw = dict(width=cfg.width, lr=cfg.eval_lr, batch=cfg.eval_batch, augment=cfg.eval_augment)
    windows = tuple(tuple(profile.eva_windows()[w]) for w in ("early", "late"))
    out = []
    for flag in datasets or cfg.datasets:
        data = profile.data_spec(flag)
        surrogate = profile.surrogate_config(flag, profile.seeds[0])
        for syn in (s for s in sets if s.dataset == flag):
            for seed in range(cfg.eval_models):
                out += [
                    Evaluation(data, "distilled", syn.ipc, cfg.eval_steps, seed=seed,
                               synthetic=syn, **kw),
                    Evaluation(data, "random", syn.ipc, cfg.eval_steps, seed=seed, **kw),
                    Evaluation(data, "eva", syn.ipc, cfg.eval_steps, seed=seed,
                               surrogate=surrogate, windows=windows, **kw),
                ]  # fmt: skip
        if cfg.full_steps:
            out += [Evaluation(data, "full", None, cfg.full_steps, seed=s, **kw)
                    for s in range(cfg.eval_models)]  # fmt: skip
    return sets + out
