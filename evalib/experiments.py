"""Configs, profiles, and the cached job runner.

A *surrogate* run trains on the full (or subset) training split and records dynamics.
A *job* trains one model on a coreset (or the full set) and evaluates it. Both are
keyed by a hash of their full config and the cache schema version (:data:`SCHEMA`, not
the package version: a release orphans nothing); results live under a cache folder and
are written atomically with a checksum, so a rerun computes only what is missing and a
torn or corrupt entry is recomputed, never read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalib import __version__
from evalib.errors import EvalibError
from evalib.executors import (  # noqa: F401  (re-exported: notebooks and tests use them)
    Executor,
    ProcessExecutor,
    SerialExecutor,
    _exit_with_parent,
    _init_worker,
    make_executor,
)
from evalib.io import atomic_file, check_output_dir, claim_dir, warn
from evalib.packing import JobSize
from evalib.progress import JobProgress, duration, log_job_line, log_job_progress
from evalib.train import Recipe

PAPER_EPOCHS = 200
ENV_CACHE = "EVALIB_CACHE"
ENV_RESULTS = "EVALIB_RESULTS_DIR"
#: "0": notebooks show the cached results of their jobs and train nothing (Setup.run)
ENV_TRAIN_MISSING = "EVALIB_TRAIN_MISSING"

#: Version of the key encoding. Bump it only when a config's meaning changes in a way
#: the encoding cannot express, and run :func:`migrate` on every results folder.
SCHEMA = 1
#: What each schema adds to a payload before hashing. Schema 1 is the encoding of evalib
#: 0.1.0, which hashed the package version string; it is kept so that results computed
#: then keep their keys.
_SCHEMA_TAGS: dict[int, dict[str, Any]] = {1: {"version": "0.1.0"}}
#: Config fields added after schema 1, with their defaults: a field at its default is left
#: out of the key, so adding a field never changes an existing key.
_ADDED_FIELDS: dict[str, Any] = {"min_steps": 0}


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class DataSpec:
    """Which data: a MedMNIST flag and optional stratified subsets (sizes, seed 0)."""

    dataset: str
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str = "resnet18"
    width: float = 1.0


@dataclass(frozen=True)
class SurrogateConfig:
    """One recorded training run on the whole (subset) training split."""

    data: DataSpec
    model: ModelSpec = ModelSpec()
    recipe: Recipe = Recipe()
    seed: int = 0

    def key(self) -> str:
        return config_key("surrogate", self)


@dataclass(frozen=True)
class SelectionSpec:
    """A coreset: ``method`` at ``rate`` with its parameters (a sorted tuple of pairs)."""

    method: str
    rate: float
    params: tuple[tuple[str, Any], ...] = ()
    class_balanced: bool = False
    rounding: str = "ceil"

    @staticmethod
    def make(method: str, rate: float, **params: Any) -> SelectionSpec:
        balanced = bool(params.pop("class_balanced", False))
        rounding = str(params.pop("rounding", "ceil"))
        frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
        return SelectionSpec(method, float(rate), frozen, balanced, rounding)

    def param_dict(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.params}


@dataclass(frozen=True)
class Job:
    """Train ``model`` with ``recipe`` on the coreset ``selection`` (None = full data),
    chosen from the dynamics of ``surrogate``; evaluate on val and test."""

    data: DataSpec
    selection: SelectionSpec | None
    surrogate: SurrogateConfig | None
    model: ModelSpec = ModelSpec()
    recipe: Recipe = Recipe()
    seed: int = 0
    budget: str = "epochs"  # "epochs": same epochs as the full run (official); "iterations"
    min_steps: int = 0  # floor on optimiser steps for a coreset (0: none); CCS-style budget

    def key(self) -> str:
        return config_key("job", self)

    @property
    def method(self) -> str:
        return "full" if self.selection is None else self.selection.method

    @property
    def rate(self) -> float:
        return 1.0 if self.selection is None else self.selection.rate


def _freeze(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _thaw(v: Any) -> Any:
    return tuple(_thaw(x) for x in v) if isinstance(v, tuple) else v


def payload_key(payload: Mapping[str, Any], schema: int | None = None) -> str:
    """16-hex-digit sha256 of ``payload`` as sorted JSON, tagged with the cache schema
    (default :data:`SCHEMA`); independent of the installed evalib version."""
    schema = SCHEMA if schema is None else schema
    tag = _SCHEMA_TAGS.get(schema, {"schema": schema})
    body = json.dumps({**payload, **tag}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    """``value`` (a dataclass's ``asdict``) without fields added after schema 1 that hold
    their default (see :data:`_ADDED_FIELDS`)."""
    if isinstance(value, dict):
        return {
            k: _canonical(v)
            for k, v in value.items()
            if not (k in _ADDED_FIELDS and v == _ADDED_FIELDS[k])
        }
    return value


def array_digest(*arrays: Any) -> str:
    """16-hex-digit sha256 of the bytes of ``arrays`` (None entries are skipped)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is not None:
            h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return h.hexdigest()[:16]


def config_key(kind: str, cfg: Any, schema: int | None = None) -> str:
    """16-hex-digit key from the config's canonical JSON and the cache schema."""
    return payload_key({"kind": kind, "config": _canonical(asdict(cfg))}, schema)


# ----------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """The scale of every notebook: data subsets, model, epochs, seeds, rates.

    The surrogate (``surrogate_recipe``, default ``recipe``) and the coreset models
    (``recipe``) train for separate numbers of epochs. Windows are given on the paper's
    200-epoch axis and placed on the surrogate's epochs by :meth:`window`; every window
    holds :attr:`window_len` epochs. Seed ``s`` of ``seeds`` selects with surrogate ``s``;
    windows are tuned on ``tuning_seed`` (surrogate and training), which no reported
    seed shares. ``min_steps`` is the floor of the second training budget, reported at
    ``floor_rates``.
    """

    name: str
    data: Mapping[str, DataSpec] = field(default_factory=dict)
    model: ModelSpec = ModelSpec()
    recipe: Recipe = Recipe()
    surrogate_recipe: Recipe | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    tuning_seed: int = 100
    rates: tuple[float, ...] = (0.02, 0.05, 0.10, 0.20, 0.30)
    tune_rates: tuple[float, ...] = (0.02, 0.05)
    min_steps: int = 0
    floor_rates: tuple[float, ...] = (0.02, 0.05)
    grid_step: int = 10  # window length and grid spacing on the paper's 200-epoch axis
    cross_models: tuple[ModelSpec, ...] = ()
    cross_seeds: tuple[int, ...] = (0,)
    description: str = ""

    def data_spec(self, dataset: str) -> DataSpec:
        return self.data.get(dataset, DataSpec(dataset))

    @property
    def epochs(self) -> int:
        """Epochs of a coreset (and full-data) model under the paper's budget."""
        return self.recipe.epochs

    @property
    def surrogate(self) -> Recipe:
        return self.surrogate_recipe or self.recipe

    @property
    def surrogate_epochs(self) -> int:
        return self.surrogate.epochs

    @property
    def window_len(self) -> int:
        """Epochs per window on the surrogate (the paper's K = 10 of 200, scaled, ≥ 2)."""
        return max(2, round(self.grid_step * self.surrogate_epochs / PAPER_EPOCHS))

    def window(self, a: int, b: int | None = None) -> tuple[int, int]:
        """The grid window of :attr:`window_len` epochs whose start is nearest to epoch
        ``a`` of the paper's 200, scaled to the surrogate's epochs (``b`` is ignored: every
        window has the grid's length)."""
        k, epochs = self.window_len, self.surrogate_epochs
        lo = min(k * round(a * epochs / PAPER_EPOCHS / k), (epochs // k - 1) * k)
        return lo, lo + k

    def eva_windows(self) -> dict[str, tuple[int, int]]:
        """The only windows the official code publishes (OrganSMNIST 30 %), placed on
        this profile's surrogate: ``early`` [0, 10) and ``late`` [100, 110) of 200."""
        return {"early": self.window(0, 10), "late": self.window(100, 110)}

    def table1_methods(self) -> list[tuple[str, dict[str, Any]]]:
        """Table 1's methods with windowed parameters on this profile's surrogate (EL2N
        averages the first window, as CCS's code sums its first 10 of 200 epochs)."""
        return [
            ("random", {}),
            ("forgetting", {}),
            ("entropy", {}),
            ("el2n", {"end": self.window(0)[1]}),
            ("aum", {}),
            ("ccs", {}),
            ("eva", dict(self.eva_windows())),
        ]

    def grid_windows(self) -> list[tuple[int, int]]:
        """Every window of the grid, as in the paper's Fig. 5 (K = spacing)."""
        k = self.window_len
        return [(a, a + k) for a in range(0, self.surrogate_epochs - k + 1, k)]

    def surrogate_config(self, dataset: str, seed: int, model: ModelSpec | None = None):
        """The surrogate that seed ``seed`` selects with."""
        return SurrogateConfig(self.data_spec(dataset), model or self.model, self.surrogate, seed)


PAPER_RECIPE = Recipe(epochs=200, batch_size=256, eval_every=1)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        data={
            f: DataSpec(f, train_subset=600, val_subset=300, test_subset=300)
            for f in ("organamnist", "organsmnist", "bloodmnist", "breastmnist", "retinamnist")
        },
        model=ModelSpec("convnet", 0.125),
        recipe=Recipe(epochs=4, batch_size=64, eval_every=1),
        surrogate_recipe=Recipe(epochs=6, batch_size=64, eval_every=2),
        seeds=(0,),
        tuning_seed=3,
        rates=(0.05, 0.3),
        tune_rates=(0.05,),
        min_steps=40,
        floor_rates=(0.05,),
        grid_step=67,
        cross_models=(ModelSpec("resnet18", 0.0625), ModelSpec("vgg", 0.0625)),
        description="seconds per notebook; tiny subsets, 4 epochs; for tests and CI",
    ),
    "cpu": Profile(
        name="cpu",
        data={
            "organamnist": DataSpec("organamnist", val_subset=2000),
            "organsmnist": DataSpec("organsmnist", val_subset=2000),
        },
        model=ModelSpec("convnet", 0.25),
        recipe=Recipe(epochs=20, batch_size=128, eval_every=2),
        surrogate_recipe=Recipe(epochs=40, batch_size=128, eval_every=5),
        seeds=(0, 1, 2),
        tuning_seed=3,
        tune_rates=(0.02, 0.05),
        min_steps=500,
        floor_rates=(0.02, 0.05),
        grid_step=25,
        # MobileNet-v2 is left out: with its small-image strides it trains over 10x
        # slower than the ConvNet per sample on one CPU thread (benchmarks/bench_models.py)
        cross_models=(ModelSpec("resnet18", 0.125), ModelSpec("vgg", 0.125)),
        cross_seeds=(0, 1),
        description=(
            "real data on a 2-core CPU: ConvNet of width 0.25 (32 channels), fp32, batch 128; "
            "surrogate 40 epochs (8 windows of 5), coreset and full models 20 epochs, plus a "
            "floor of 500 steps at 2 % and 5 %; windows tuned on seed 3, reported on seeds "
            "0-2, each with its own surrogate; validation on a stratified 2000-image subset "
            "for the Organ sets"
        ),
    ),
    "paper": Profile(
        name="paper",
        model=ModelSpec("resnet18", 1.0),
        recipe=PAPER_RECIPE,
        seeds=(0, 1, 2),
        tuning_seed=3,
        min_steps=2500,
        grid_step=10,
        cross_models=(ModelSpec("resnet50"), ModelSpec("mobilenet_v2"), ModelSpec("vgg")),
        cross_seeds=(0, 1, 2),
        description=(
            "the official recipe exactly: ResNet-18, 200 epochs, batch 256, 3 seeds, windows "
            "of 10 epochs tuned on seed 3, plus a floor of 2500 steps at 2 % and 5 % (GPU)"
        ),
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise EvalibError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# ----------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/evalib").expanduser()


def default_results_dir() -> Path:
    """Where notebooks and ``evalib grid`` keep job results unless told: $EVALIB_RESULTS_DIR,
    else the ``results/`` folder of the source checkout evalib runs from (the committed
    cache, whatever the working directory), else ``~/.cache/evalib/results``."""
    env = os.environ.get(ENV_RESULTS)
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").is_file() and (repo / "notebooks").is_dir():
        return repo / "results"
    return default_cache_dir() / "results"


_RESULT_DIRS = frozenset(
    {"jobs", "surrogates", "selections", "candidates", "pie", "distill", "segmentation"}
)
_SCRATCH_DIRS = frozenset(
    {"surrogates", "checkpoints", "results", "pie", "distill", "segmentation"}
)


def _entries(path: Path) -> list[os.DirEntry] | None:
    try:
        return [e for e in os.scandir(path) if not e.name.startswith(".")]
    except OSError:
        return None


def is_results_dir(path: Path) -> bool:
    """True when ``path`` holds only what evalib writes into ``<results>/<profile>/`` (the
    layout of the committed ``results/`` folders, written before markers existed): the
    folders jobs, surrogates, selections, candidates, pie, distill, segmentation and one per
    dataset, and CSV or JSON files."""
    from evalib.data import DATASETS

    entries = _entries(path)
    if entries is None:
        return False
    return all(
        e.name in _RESULT_DIRS or e.name in DATASETS
        if e.is_dir()
        else e.name.endswith((".csv", ".json"))
        for e in entries
    )


def is_scratch_dir(path: Path) -> bool:
    """True when ``path`` holds only evalib's scratch folders (surrogates, checkpoints, ...)."""
    entries = _entries(path)
    return entries is not None and all(e.is_dir() and e.name in _SCRATCH_DIRS for e in entries)


def atomic_write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` with a sha256 of its body; the file appears only when complete."""
    body = json.dumps(payload, sort_keys=True, default=_json_default)
    record = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "body": body})
    with atomic_file(path, "w") as fh:
        fh.write(record)


def read_json_checked(path: Path) -> dict[str, Any] | None:
    """The payload written by :func:`atomic_write_json`, or None if absent or corrupt."""
    try:
        record = json.loads(path.read_text())
        body = record["body"]
        if hashlib.sha256(body.encode()).hexdigest() != record["sha256"]:
            return None
        return json.loads(body)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@dataclass(frozen=True)
class Cache:
    """Where results live.

    ``results/jobs/<key>.json``: one small checksummed file per job (commit these);
    ``scratch/surrogates/<key>/``: recorded dynamics (large; regenerated on demand);
    ``scratch/checkpoints/``: per-epoch state of runs in progress. Both roots carry an
    ``.evalib-output`` marker (or, written by an older evalib, only evalib's layout); any
    other existing folder is refused (see :meth:`at`).
    """

    results: Path
    scratch: Path

    @staticmethod
    def at(
        results: str | os.PathLike | None = None,
        scratch: str | os.PathLike | None = None,
        *,
        what: tuple[str | None, str | None] = (None, None),
    ) -> Cache:
        """The cache in ``results`` and ``scratch`` (defaults under $EVALIB_CACHE), created
        and marked as evalib's. A folder that holds anything else is refused before any
        work (one-line EvalibError); ``what`` names the two options in messages."""
        res = Path(results).expanduser() if results is not None else default_cache_dir() / "results"
        scr = Path(scratch).expanduser() if scratch is not None else default_cache_dir()
        parts = [(res, "results", is_results_dir, what[0])]
        if res.resolve() != scr.resolve():  # scratch first: the default results sit inside it
            parts.insert(0, (scr, "scratch", is_scratch_dir, what[1]))
        for path, kind, legacy, label in parts:  # both checked before either is created
            check_output_dir(path, kind, legacy=legacy, what=label)
        for path, kind, legacy, label in parts:
            claim_dir(path, kind, legacy=legacy, what=label)
        for path, label in ((res, what[0]), (scr, what[1])):
            if not os.access(path, os.W_OK | os.X_OK):
                raise EvalibError(f"{label + ' ' if label else ''}folder {path} is not writable")
        return Cache(res, scr)

    def job_path(self, job: Job) -> Path:
        return self.results / "jobs" / f"{job.key()}.json"

    def surrogate_dir(self, cfg: SurrogateConfig) -> Path:
        return self.scratch / "surrogates" / cfg.key()

    def checkpoint_dir(self, kind: str, key: str) -> Path:
        return self.scratch / "checkpoints" / f"{kind}-{key}"

    def job_result(self, job: Job) -> dict[str, Any] | None:
        res = read_json_checked(self.job_path(job))
        return res if res is not None and res.get("key") == job.key() else None


# ----------------------------------------------------------------------------- running


def load_data(spec: DataSpec, data_root: str | os.PathLike | None = None):
    """(dataset, train split, train ids, val split, test split) for a DataSpec."""
    from evalib.data import load, stratified_subset

    ds = load(spec.dataset, data_root)
    parts = {}
    for name, size in (
        ("train", spec.train_subset),
        ("val", spec.val_subset),
        ("test", spec.test_subset),
    ):
        split = ds.split(name)
        ids = (
            np.arange(len(split), dtype=np.int64)
            if size is None
            else stratified_subset(split.labels, size, seed=0)
        )
        parts[name] = (split.subset(ids) if size is not None else split, ids)
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
    ``checkpoint_every_s``: seconds between checkpoints (see :func:`evalib.train.train`)."""
    from evalib.dynamics import load as load_dynamics
    from evalib.dynamics import save as save_dynamics
    from evalib.models import build_model
    from evalib.train import seed_everything

    out = cache.surrogate_dir(cfg)
    if (out / "meta.json").exists():
        try:
            dyn = load_dynamics(out)
            _record_surrogate(cfg, cache, dyn)
            return dyn
        except EvalibError:
            pass  # torn or corrupt: recompute below
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
    committed selection (:func:`save_selection`) reproduces the run exactly.
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


# ----------------------------------------------------------------------------- selections


def indices_digest(chosen_ids: np.ndarray) -> str:
    """16-hex-digit sha256 of the sorted sample ids (int64) of a coreset."""
    return hashlib.sha256(np.sort(np.asarray(chosen_ids, np.int64)).tobytes()).hexdigest()[:16]


def selection_path(cache: Cache, dataset: str, digest: str) -> Path:
    return cache.results / "selections" / dataset / f"{digest}.npz"


def save_selection(cache: Cache, dataset: str, chosen_ids: np.ndarray, n_total: int) -> str:
    """Store a coreset as a packed bitmask over the ``n_total`` training samples
    (``n_total / 8`` bytes, compressed); returns its digest (:func:`indices_digest`)."""
    ids = np.unique(np.asarray(chosen_ids, np.int64))
    if len(ids) and (ids[0] < 0 or ids[-1] >= n_total):
        raise EvalibError(f"sample ids must lie in [0, {n_total}), got {ids[0]}..{ids[-1]}")
    digest = indices_digest(ids)
    path = selection_path(cache, dataset, digest)
    if not path.exists():
        mask = np.zeros(n_total, dtype=bool)
        mask[ids] = True
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as fh:
            np.savez_compressed(fh, bits=np.packbits(mask), n=np.int64(n_total))
    return digest


def load_selection(cache: Cache, dataset: str, digest: str) -> np.ndarray:
    """Sorted sample ids of the stored coreset ``digest`` (checked against the digest)."""
    path = selection_path(cache, dataset, digest)
    try:
        with np.load(path) as z:
            ids = np.flatnonzero(np.unpackbits(z["bits"], count=int(z["n"]))).astype(np.int64)
    except FileNotFoundError:
        raise EvalibError(f"no stored selection {digest} for {dataset} in {path.parent}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise EvalibError(f"stored selection {path} is unreadable: {exc}") from None
    if indices_digest(ids) != digest:
        raise EvalibError(f"stored selection {path} does not match its digest {digest}")
    return ids


# ----------------------------------------------------------------------------- jobs


def selection_key(job: Job) -> str:
    """What a job's coreset depends on: the surrogate, the selection spec, the seed and the
    data (not the budget or the coreset model's recipe, which only change the training)."""
    payload = {"surrogate": job.surrogate.key() if job.surrogate is not None else None,
               "selection": asdict(job.selection) if job.selection is not None else None,
               "seed": job.seed, "data": asdict(job.data)}  # fmt: skip
    return payload_key(payload)


def selection_index_path(cache: Cache, dataset: str) -> Path:
    """``selections/<dataset>/index.json``: selection key -> digest of the stored coreset."""
    return cache.results / "selections" / dataset / "index.json"


def read_selection_index(cache: Cache, dataset: str) -> dict[str, str]:
    path = selection_index_path(cache, dataset)
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise EvalibError(f"selection index {path} is unreadable: {exc}") from None
    if not isinstance(index, dict):
        raise EvalibError(f"selection index {path} is not a JSON object")
    return index


@contextlib.contextmanager
def _index_lock(path: Path):
    """Hold an exclusive lock beside ``path`` (processes of one machine share the index).
    Without ``fcntl`` (Windows) there is no lock; run one writer at a time there."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remember_selections(cache: Cache, dataset: str, entries: Mapping[str, str]) -> None:
    """Add selection key -> digest ``entries`` to the dataset's index (atomic, locked)."""
    path = selection_index_path(cache, dataset)
    with _index_lock(path):
        index = read_selection_index(cache, dataset)
        new = {k: v for k, v in entries.items() if index.get(k) != v}
        if not new:
            return
        index.update(new)
        with atomic_file(path, "w") as fh:
            fh.write(json.dumps(index, indent=0, sort_keys=True))


def _selection_stored(job: Job, cache: Cache, index: Mapping[str, str]) -> bool:
    digest = index.get(selection_key(job))
    return digest is not None and selection_path(cache, job.data.dataset, digest).exists()


def stored_selection(job: Job, cache: Cache) -> np.ndarray | None:
    """Sorted sample ids of ``job``'s coreset if a run stored it (with the results, so
    it outlives the surrogate's dynamics in the scratch folder), else None."""
    index = read_selection_index(cache, job.data.dataset)
    if not _selection_stored(job, cache, index):
        return None
    return load_selection(cache, job.data.dataset, index[selection_key(job)])


def store_selection(job: Job, cache: Cache, chosen_ids: np.ndarray, n_total: int) -> str:
    """Store ``job``'s coreset and index it by :func:`selection_key`; returns its digest."""
    digest = save_selection(cache, job.data.dataset, chosen_ids, n_total)
    remember_selections(cache, job.data.dataset, {selection_key(job): digest})
    return digest


def _load_for_job(job: Job, cache: Cache, data_root, progress, device, threads,
                  checkpoint_every_s=None):  # fmt: skip
    """(dataset, train split, train ids, val, test, coreset positions) of ``job``.

    A coreset stored by an earlier run (:func:`stored_selection`) is reused, so the
    surrogate is retrained only for selections nobody has made yet.
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
) -> dict[str, Any]:
    """Train and evaluate ``job`` (or read its cached result); returns one result row.

    ``positions`` (sorted, into the job's training split) replaces the selection step,
    as :func:`rerun` does with a committed selection; the row is then not cached.
    ``checkpoint_every_s``: seconds between checkpoints (see :func:`evalib.train.train`).
    """
    given = positions is not None
    cached = None if given else cache.job_result(job)
    if cached is not None:
        return cached
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
    return row


def _train_job(job, cache, ds, train_split, ids, val, test, positions, progress, device,
               threads, t0, checkpoint_every_s=None) -> dict[str, Any]:  # fmt: skip
    from evalib.models import build_model
    from evalib.train import seed_everything

    coreset = train_split.subset(positions)
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
        device=device,
        threads=threads,
        checkpoint_every_s=checkpoint_every_s,
        progress=progress,
        desc=f"{job.method} {job.rate:.0%} s{job.seed}",
    )
    _rmtree(cache.checkpoint_dir("job", job.key()))
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


def _train_resumable(ckpt: Path, **kwargs):
    """``train`` with a checkpoint folder keyed by config; a folder left by an older evalib
    (whose fingerprint no longer matches) is discarded and the run starts afresh."""
    from evalib.train import CheckpointMismatch, train

    try:
        return train(checkpoint_dir=ckpt, **kwargs)
    except CheckpointMismatch:
        _rmtree(ckpt)
        return train(checkpoint_dir=ckpt, **kwargs)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- executors


# Serial, process and Ray executors live in evalib.executors (which imports nothing from
# here); they are re-exported at the top of this module for notebooks and older code.


@dataclass(frozen=True)
class _JobCall:
    cache: Cache
    data_root: str | None
    device: str | None
    threads: int | None

    def __call__(self, job: Job) -> dict[str, Any]:
        return run_job(job, self.cache, self.data_root, False, self.device, self.threads)

    def job_size(self, job: Job) -> JobSize:
        """What the executors pack jobs onto devices by (see evalib.packing)."""
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
    jobs: Sequence[Job],
    cache: Cache,
    data_root: str | os.PathLike | None = None,
    executor: Executor | str = "serial",
    device: str | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every job not yet cached (surrogates first, once each); one row per job."""
    if isinstance(executor, str):
        executor = make_executor(executor)
    unique = list(dict.fromkeys(jobs))
    todo = [j for j in unique if cache.job_result(j) is None]
    stored = {d: read_selection_index(cache, d) for d in {j.data.dataset for j in todo}}
    surrogates = list(dict.fromkeys(  # only for coresets no earlier run has stored
        j.surrogate for j in todo
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
        for row in executor.run(call, todo, bar=jp.bar) if takes_bar else executor.run(call, todo):
            jp.update(row)
    return results_table([cache.job_result(j) for j in unique])


def results_table(rows: Iterable[Mapping[str, Any] | None]) -> pd.DataFrame:
    """One row per job result, without the bulky history and config columns."""
    keep = [dict(r) for r in rows if r is not None]
    frame = pd.DataFrame(keep)
    return frame.drop(columns=[c for c in ("history", "config") if c in frame.columns])


def train_size(job: Job) -> int:
    """Training images of ``job``: its selection's budget of the (subset) training split."""
    from evalib.data import dataset_info
    from evalib.select import budget

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


# ----------------------------------------------------------------------------- grids


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


def summarize(
    table: pd.DataFrame, metric: str = "clean_test_acc", by: Sequence[str] = ("method", "rate")
) -> pd.DataFrame:
    """Mean, std, n and a 95 % t-interval half-width of ``metric`` (in %) over seeds."""
    from scipy import stats

    g = table.groupby(list(by))[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out[["mean", "std"]] *= 100
    tcrit = out["count"].map(lambda n: stats.t.ppf(0.975, n - 1) if n > 1 else math.nan)
    out["ci95"] = tcrit * out["std"] / np.sqrt(out["count"])
    return out


# ----------------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class Setup:
    """What a notebook's parameters resolve to. ``device``: as given (None = auto); the
    runs pick and check it with :func:`evalib.train.pick_device`."""

    profile: Profile
    dataset: str
    cache: Cache
    data_root: str | None
    seeds: tuple[int, ...]
    rates: tuple[float, ...]
    executor: Executor
    device: str | None = None
    train_missing: bool = True

    def run(self, jobs: Sequence[Job], progress: bool = True) -> pd.DataFrame:
        """Results of ``jobs``, training those not in the cache; with ``train_missing``
        off (``EVALIB_TRAIN_MISSING=0``), only the cached ones, and a line saying how many
        are missing."""
        if self.train_missing:
            return run_jobs(jobs, self.cache, self.data_root, self.executor, self.device,
                            progress=progress)  # fmt: skip
        table, missing = collect(jobs, self.cache)
        if missing:
            n = len(set(jobs))
            print(f"{len(missing)} of {n} jobs are not in {self.cache.results} yet; shown: the "
                  f"{n - len(missing)} that are (EVALIB_TRAIN_MISSING=0: nothing is trained)")  # fmt: skip
        return table

    def surrogate(self, model: ModelSpec | None = None, seed: int | None = None) -> SurrogateConfig:
        p = self.profile
        return p.surrogate_config(self.dataset, p.seeds[0] if seed is None else seed, model)

    def dynamics(self, model: ModelSpec | None = None, seed: int | None = None, progress=True):
        return run_surrogate(self.surrogate(model, seed), self.cache, self.data_root, progress,
                             self.device)  # fmt: skip

    def out_dir(self) -> Path:
        """Folder for this notebook's summary tables: results/<profile>/<dataset>/."""
        path = self.cache.results / self.dataset
        path.mkdir(parents=True, exist_ok=True)
        return path


def _expect(name: str, value: Any, types: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise EvalibError(
            f"parameter {name} must be {what}, got {type(value).__name__} {value!r}"
            + (list_hint(name, value) if list in _tuple(types) else "")
        )


def list_hint(name: str, value: Any) -> str:
    """For a list parameter that arrived as text (papermill's ``-p`` passes ``[0, 1]`` as a
    string): the hint to pass it as YAML with ``-y``; ``""`` otherwise."""
    if not isinstance(value, str):
        return ""
    return f'; papermill\'s -p passes text: give lists as YAML, e.g. -y "{name}: [0, 1]"'


def _tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


def _number_list(name: str, value: Any, what: str, ok: Callable[[float], bool], kind=float):
    """``value`` as a tuple: None stays None; else a non-empty list of unique numbers."""
    if value is None:
        return None
    _expect(name, value, (list, tuple), f"a non-empty list of {what} or None")
    if not value:
        raise EvalibError(f"parameter {name} must be a non-empty list of {what} or None, got []")
    types = (int,) if kind is int else (int, float)
    for v in value:
        _expect(name, v, types, f"a list of {what}")
        if not ok(v):
            raise EvalibError(f"parameter {name} must be a list of {what}, got {v!r}")
    if len(set(value)) != len(value):
        twice = next(v for v in value if list(value).count(v) > 1)
        raise EvalibError(f"parameter {name} lists {twice!r} twice; give each value once")
    return tuple(kind(v) for v in value)


def _fraction(v: float) -> bool:
    return math.isfinite(v) and 0 < v <= 1


def _seed(v: int) -> bool:
    return 0 <= v < 2**63


def _check_extra(name: str, value: Any) -> None:
    """Checks of the parameters some notebooks add to the common ones (see NOTEBOOK_EXTRAS)."""
    from evalib.data import dataset_info

    if name not in NOTEBOOK_EXTRAS:
        return
    if name == "mode":
        if value not in ("class", "profile"):
            raise EvalibError(f"parameter mode must be 'class' or 'profile', got {value!r}")
    elif name == "rate":
        _expect(name, value, (int, float), "a fraction in (0, 1]")
        if not _fraction(value):
            raise EvalibError(f"parameter rate must be a fraction in (0, 1], got {value!r}")
    elif name == "grid_rates":
        _number_list(name, value, "fractions in (0, 1]", _fraction)
    elif name == "grid_seeds":
        _number_list(name, value, "integers ≥ 0 (seeds)", _seed, int)
    elif name == "sparsities":
        _number_list(name, value, "fractions in (0, 1)", lambda v: 0 < v < 1)
    elif name == "lams":
        _number_list(name, value, "finite numbers > 0", lambda v: math.isfinite(v) and v > 0)
    elif name == "ipcs":
        _number_list(name, value, "image counts (integers ≥ 1)", lambda v: v >= 1, int)
    elif name == "datasets" and value is not None:
        _expect(name, value, (list, tuple), "a non-empty list of MedMNIST flags or None")
        if not value:
            raise EvalibError("parameter datasets must be a non-empty list of MedMNIST flags")
        for flag in value:
            _expect(name, flag, str, "a list of MedMNIST flags")
            dataset_info(flag)


NOTEBOOK_PARAMETERS = (
    "profile", "dataset", "results_dir", "data_root", "scratch_dir", "seeds", "rates",
    "executor", "workers", "ray_address", "device",
)  # fmt: skip
NOTEBOOK_EXTRAS = {  # parameters of single notebooks that notebook_setup checks for them
    "mode": "the walkthrough's mode, 'class' or 'profile'",
    "rate": "the walkthrough's coreset rate, a fraction in (0, 1]",
    "grid_rates": "a list of fractions in (0, 1], or None",
    "grid_seeds": "a list of seeds, or None",
    "sparsities": "a list of fractions in (0, 1), or None",
    "lams": "a list of numbers > 0, or None",
    "ipcs": "a list of image counts ≥ 1, or None",
    "datasets": "a list of MedMNIST flags, or None",
}
EXECUTORS = ("serial", "process", "ray")


def injected_parameters() -> list[str] | None:
    """Names that papermill injected into the running notebook, or None outside a kernel.

    papermill writes its values into a cell that starts with ``# Parameters``; its source is
    in the kernel's input history (``In``), which this reads and parses."""
    import ast
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return None
    history = shell.user_ns.get("In") or []
    for source in reversed(history):
        if isinstance(source, str) and source.lstrip().startswith("# Parameters"):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return None
            return [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]  # fmt: skip
    return []


def check_parameter_names(names: Iterable[str], known: Iterable[str]) -> None:
    """One-line EvalibError for the first name not in ``known`` (papermill's own
    ``PAPERMILL_*`` paths are allowed), suggesting the closest known one."""
    import difflib

    known = list(known)
    for name in names:
        if name in known or name.startswith("PAPERMILL_"):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise EvalibError(
            f"unknown notebook parameter {name!r}; {hint}this notebook takes {', '.join(known)}"
        )


def paper_cpu_warning(profile: Profile, dataset: str) -> str:
    """The one-line warning for a ``paper``-profile run on the CPU, with its estimated cost."""
    from evalib.data import dataset_info
    from evalib.train import cpu_hours

    spec = profile.data_spec(dataset)
    n = spec.train_subset or dataset_info(dataset).n_samples[0]
    hours = cpu_hours(profile.model.name, profile.model.width, n, profile.epochs)
    cost = (
        f"one {profile.model.name} run of {profile.epochs} epochs on {n} images takes about "
        f"{hours:.0f} CPU-core-hours (estimate) and a notebook runs dozens"
        if hours is not None
        else "its runs take days to weeks"
    )
    return f"the paper profile is running on the CPU: {cost}; use a GPU, or the cpu profile"


def notebook_setup(
    profile: str,
    dataset: str,
    results_dir: str | os.PathLike | None = None,
    data_root: str | None = None,
    scratch_dir: str | None = None,
    seeds: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    executor: str = "serial",
    workers: int = 2,
    ray_address: str | None = None,
    device: str | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Setup:
    """Validate a notebook's (papermill) parameters and resolve them; one-line errors.

    Every parameter is checked before any work: a wrong type or value, and a parameter
    name that papermill injected but the notebook does not take (``extra``: the names and
    values of the notebook's own parameters beyond these), is an EvalibError.
    ``results_dir`` None: :func:`default_results_dir` (the checkout's ``results/``, whatever
    the working directory). ``device`` None: CUDA, else MPS, else the CPU; the ``paper``
    profile on the CPU prints a one-line warning with its cost.
    """
    from evalib.data import dataset_info
    from evalib.train import device_warning, pick_device

    extra = dict(extra or {})
    injected = injected_parameters()
    if injected:
        check_parameter_names(injected, (*NOTEBOOK_PARAMETERS, *extra))
    _expect("profile", profile, str, "a profile name (smoke, cpu, paper)")
    _expect("dataset", dataset, str, "a MedMNIST flag")
    if results_dir is not None:
        _expect("results_dir", results_dir, (str, os.PathLike), "a folder path or None")
    if data_root is not None:
        _expect("data_root", data_root, (str, os.PathLike), "a folder path or None")
        root = Path(data_root).expanduser()
        if root.exists() and not root.is_dir():
            raise EvalibError(f"parameter data_root must be a folder, got the file {root}")
    if scratch_dir is not None:
        _expect("scratch_dir", scratch_dir, (str, os.PathLike), "a folder path or None")
    seeds = _number_list("seeds", seeds, "integers ≥ 0 (seeds)", _seed, int)
    rates = _number_list("rates", rates, "fractions in (0, 1]", _fraction)
    _expect("executor", executor, str, f"one of {', '.join(EXECUTORS)}")
    if executor not in EXECUTORS:
        raise EvalibError(f"parameter executor must be one of {', '.join(EXECUTORS)}, "
                          f"got {executor!r}")  # fmt: skip
    _expect("workers", workers, int, "an integer ≥ 1")
    if workers < 1:
        raise EvalibError(f"parameter workers must be an integer ≥ 1, got {workers}")
    if ray_address is not None:
        _expect("ray_address", ray_address, str, 'a Ray address ("auto", "ray://…") or None')
    if device is not None:
        _expect("device", device, str, 'a device name ("cpu", "cuda", "cuda:1", "mps") or None')
    for name, value in extra.items():
        _check_extra(name, value)
    prof = get_profile(profile)
    info = dataset_info(dataset)
    dev = pick_device(device)
    if (note := device_warning(device, dev)) is not None:
        warn(note)
    if prof.name == "paper" and dev.type == "cpu":
        warn(paper_cpu_warning(prof, info.flag))
    root = default_results_dir() if results_dir is None else Path(results_dir).expanduser()
    what = ("parameter results_dir", "parameter scratch_dir" if scratch_dir else None)
    cache = Cache.at(root / prof.name, scratch_dir, what=what)
    log_job_progress()  # one line per finished job: papermill --log-output shows them
    train_missing = os.environ.get(ENV_TRAIN_MISSING, "1").strip()
    if train_missing not in ("0", "1"):
        raise EvalibError(f"{ENV_TRAIN_MISSING} must be 0 or 1, got {train_missing!r}")
    return Setup(
        profile=prof,
        dataset=info.flag,
        cache=cache,
        data_root=None if data_root is None else str(data_root),
        seeds=seeds or prof.seeds,
        rates=rates or prof.rates,
        executor=make_executor(executor, workers, address=ray_address),
        device=device,
        train_missing=train_missing == "1",
    )


# ----------------------------------------------------------------------------- rerun


def _recipe(d: Mapping[str, Any]) -> Recipe:
    return Recipe(**d)


def surrogate_from_dict(d: Mapping[str, Any]) -> SurrogateConfig:
    return SurrogateConfig(
        DataSpec(**d["data"]), ModelSpec(**d["model"]), _recipe(d["recipe"]), int(d["seed"])
    )


def job_from_dict(d: Mapping[str, Any]) -> Job:
    """Rebuild a Job from the ``config`` stored in its result (inverse of ``asdict``)."""
    sel = d.get("selection")
    return Job(
        data=DataSpec(**d["data"]),
        selection=None
        if sel is None
        else SelectionSpec(
            sel["method"],
            float(sel["rate"]),
            tuple((k, _freeze(v)) for k, v in sel["params"]),
            bool(sel["class_balanced"]),
            sel["rounding"],
        ),
        surrogate=None if d.get("surrogate") is None else surrogate_from_dict(d["surrogate"]),
        model=ModelSpec(**d["model"]),
        recipe=_recipe(d["recipe"]),
        seed=int(d["seed"]),
        budget=d.get("budget", "epochs"),
        min_steps=int(d.get("min_steps", 0)),
    )


REPRODUCED_FIELDS = ("paper_val_acc", "clean_test_acc", "final_val_acc", "steps", "indices_sha256")


def stored_job(result_path: str | os.PathLike) -> tuple[Job, dict[str, Any]]:
    """(job, stored result) of a ``results/<profile>/jobs/<key>.json`` file, checked to be a
    complete job record whose config rebuilds its key; one-line EvalibError otherwise."""
    path = Path(result_path)
    if path.is_dir() or not path.exists():
        raise EvalibError(
            f"{path} is not a job result file ({'a folder' if path.exists() else 'not found'})"
        )
    stored = read_json_checked(path)
    if stored is None:
        raise EvalibError(f"{path} is not a valid job result (unreadable, corrupt or not evalib's)")
    config = stored.get("config")
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
            f"(key {stored['key']}, rebuilt {job.key()}); re-key its folder with evalib.experiments.migrate"
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


def migrate(results: str | os.PathLike) -> dict[str, int]:
    """Re-key every job and surrogate record under ``results`` from its stored config to the
    current :data:`SCHEMA` (no retraining); returns counts of files kept, moved, skipped."""
    counts = {"kept": 0, "moved": 0, "skipped": 0}
    folders = (("jobs", job_from_dict, "job"), ("surrogates", surrogate_from_dict, "surrogate"))
    for folder, build, kind in folders:
        for path in sorted((Path(results) / folder).glob("*.json")):
            row = read_json_checked(path)
            if row is None or not isinstance(row.get("config"), dict):
                counts["skipped"] += 1
                continue
            key = config_key(kind, build(row["config"]))
            if key == row.get("key") and path.stem == key:
                counts["kept"] += 1
                continue
            atomic_write_json(path.with_name(f"{key}.json"), {**row, "key": key})
            if path.stem != key:
                path.unlink()
            counts["moved"] += 1
    return counts


def collect(jobs: Sequence[Job], cache: Cache) -> tuple[pd.DataFrame, list[Job]]:
    """Results of the ``jobs`` already in the cache (nothing is trained) and those missing."""
    unique = list(dict.fromkeys(jobs))
    found = {j: cache.job_result(j) for j in unique}
    return results_table(found.values()), [j for j, r in found.items() if r is None]
