"""Frozen configs, their keys, and the profiles.

A *surrogate* run (:class:`SurrogateConfig`) trains on the full (or subset) training
split and records dynamics; a *job* (:class:`Job`) trains one model on a coreset (or the
full set) and evaluates it. Both are keyed by a hash of their full config and the cache
schema version (:data:`SCHEMA`, not the package version: a release orphans nothing). A
:class:`Profile` sets the scale of every notebook (:data:`PROFILES`).

This module knows nothing of where results live (:mod:`evalib.runs.cache`) or how jobs run
(:mod:`evalib.runs.runner`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from evalib.errors import EvalibError
from evalib.runs.study_config import DistillSettings, PIESettings, SegSettings
from evalib.train import Recipe

PAPER_EPOCHS = 200


#: Version of the key encoding. Bump it only when a config's meaning changes in a way
#: the encoding cannot express, and run :func:`evalib.runs.rerun.migrate` on every results folder.
SCHEMA = 1
#: What each schema adds to a payload before hashing. Schema 1 is the encoding of evalib
#: 0.1.0, which hashed the package version string; it is kept so that results computed
#: then keep their keys.
_SCHEMA_TAGS: dict[int, dict[str, Any]] = {1: {"version": "0.1.0"}}
#: Config fields added after schema 1, with their defaults: a field at its default is left
#: out of the key, so adding a field never changes an existing key.
_ADDED_FIELDS: dict[str, Any] = {"min_steps": 0, "weights": None, "quota": "proportional"}


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
    """A coreset: ``method`` at ``rate`` with its parameters (a sorted tuple of pairs).

    ``quota``: how class quotas and the coreset size are set (:data:`evalib.select.QUOTAS`):
    "proportional" (the default, left out of keys) or "last_class", the published code's
    class-balance flag as it behaved (:func:`evalib.select.last_class_quotas`)."""

    method: str
    rate: float
    params: tuple[tuple[str, Any], ...] = ()
    class_balanced: bool = False
    rounding: str = "ceil"
    quota: str = "proportional"

    @staticmethod
    def make(method: str, rate: float, **params: Any) -> SelectionSpec:
        balanced = bool(params.pop("class_balanced", False))
        rounding = str(params.pop("rounding", "ceil"))
        quota = str(params.pop("quota", "proportional"))
        frozen = tuple(sorted((k, _freeze(v)) for k, v in params.items()))
        return SelectionSpec(method, float(rate), frozen, balanced, rounding, quota)

    def param_dict(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.params}


@dataclass(frozen=True)
class Job:
    """Train ``model`` with ``recipe`` on the coreset ``selection`` (None = full data),
    chosen from the dynamics of ``surrogate``; evaluate on val and test. ``weights``
    names per-sample loss weights stored with the results (:func:`evalib.runs.cache.save_weights`,
    one per sample of the training split)."""

    data: DataSpec
    selection: SelectionSpec | None
    surrogate: SurrogateConfig | None
    model: ModelSpec = ModelSpec()
    recipe: Recipe = Recipe()
    seed: int = 0
    budget: str = "epochs"  # "epochs": same epochs as the full run (official); "iterations"
    min_steps: int = 0  # floor on optimiser steps for a coreset (0: none); CCS-style budget
    weights: str | None = None  # digest of stored per-sample loss weights (None: all 1)

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
    ``floor_rates``. ``pie``, ``distill`` and ``segmentation`` hold the sizes of the
    studies of notebooks 07–09 (:mod:`evalib.runs.study_config`).
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
    tuned_arms: tuple[str, ...] = ("eva", "exp_s", "var_s", "exp_d")  # arms with tuned windows
    baselines: tuple[str, ...] | None = None  # Table 1's fixed methods run (None: all of them)
    tune_recipe: Recipe | None = None  # recipe of the tuning jobs (None: recipe)
    # class-balanced EVA tuned on its own pair grid (False: on EVA's chosen pair, no grid)
    balance_own_tuning: bool = True
    balance_datasets: tuple[str, ...] | None = None  # where the balance study runs (None: all)
    balance_arms: tuple[str, ...] | None = None  # the balance study's arms run (None: all four)
    balance_floor: bool = True  # the balance arms under the step floor too (False: epochs only)
    studies: tuple[str, ...] | None = None  # the coreset studies run (None: every one)
    full_runs: bool = True  # Table 1's full-data row (claim 5 and the gaps to the full set)
    pie: PIESettings | None = None  # notebook 07
    distill: DistillSettings | None = None  # notebook 08
    segmentation: SegSettings | None = None  # notebook 09
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

    def tuning_recipe(self) -> Recipe:
        """The recipe of the tuning jobs: :attr:`tune_recipe`, else :attr:`recipe`."""
        return self.tune_recipe or self.recipe

    def table1_methods(self) -> list[tuple[str, dict[str, Any]]]:
        """Table 1's methods with windowed parameters on this profile's surrogate (EL2N
        averages the first window, as CCS's code sums its first 10 of 200 epochs)."""
        methods = [
            ("random", {}),
            ("forgetting", {}),
            ("entropy", {}),
            ("el2n", {"end": self.window(0)[1]}),
            ("aum", {}),
            ("ccs", {}),
            ("eva", dict(self.eva_windows())),
        ]
        keep = self.baselines
        return [(m, p) for m, p in methods if keep is None or m == "eva" or m in keep]

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
        description="1–3 minutes per notebook and dataset on a 2-core CPU; tiny subsets, "
        "4 epochs; for tests and CI",
        pie=PIESettings(
            dense_models=2,
            fine_tune_steps=5,
            lams=(2.0,),
            description="2 dense models, 5 fine-tune steps after pruning, λ = 2",
        ),
        distill=DistillSettings(
            ipcs=(1, 10),
            iterations=10,
            batch_real=32,
            width=0.125,
            eval_steps=25,
            eval_models=1,
            full_steps=40,
            description="10 DM iterations, ConvNet width 0.125, 25 evaluation steps, 1 network",
        ),
        segmentation=SegSettings(
            n_train=160,
            n_test=100,
            width=0.5,
            epochs=4,
            rates=(0.3, 0.6),
            seeds=(0,),
            el2n_end=1,
            batch_size=16,
            description="160 training mosaics (2×2), U-Net width 0.5, 4 epochs of batch 16, one seed",
        ),
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
        cross_seeds=(0, 1, 2),
        description=(
            "real data on a 2-core CPU: ConvNet of width 0.25 (32 channels), fp32, batch 128; "
            "surrogate 40 epochs (8 windows of 5), coreset and full models 20 epochs, plus a "
            "floor of 500 steps at 2 % and 5 %; windows tuned on seed 3, reported on seeds "
            "0-2, each with its own surrogate; validation on a stratified 2000-image subset "
            "for the Organ sets"
        ),
        pie=PIESettings(
            dense_models=3,
            fine_tune_steps=100,
            lams=(2.0,),
            coreset_rates=(0.05, 0.3),
            description=(
                "3 dense models, 100 fine-tune steps (lr 0.01) after pruning, loss weights with "
                "λ = 2 (no oversampling), coresets at 5 % and 30 %"
            ),
        ),
        distill=DistillSettings(
            ipcs=(1, 10, 50),
            iterations=200,
            batch_real=64,
            width=0.25,
            eval_steps=200,
            eval_models=2,
            full_steps=500,
            eval_batch=128,
            description=(
                "200 DM iterations (64 real images per class each), ConvNet width 0.25 "
                "(32 channels), 200 evaluation steps of batch 128, 2 evaluation networks per set"
            ),
        ),
        segmentation=SegSettings(
            n_train=1000,
            n_test=500,
            width=0.5,
            epochs=12,
            rates=(0.2, 0.5),
            seeds=(0, 1, 2),
            el2n_end=2,
            description="1000 training mosaics (2×2), U-Net width 0.5 (8 base channels), 12 epochs, "
            "three retrain seeds",
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
        pie=PIESettings(
            dense_models=5,
            fine_tune_steps=1000,
            lams=(1.0, 3.0),
            description="5 dense models, 1000 fine-tune steps after pruning, λ ∈ {1, 3}",
        ),
        distill=DistillSettings(
            ipcs=(1, 10, 50),
            iterations=20000,
            batch_real=256,
            width=1.0,
            eval_steps=3000,
            eval_models=5,
            full_steps=20000,
            description=(
                "DM's published setting on a GPU: 20 000 iterations, 256 real images per class, "
                "ConvNet-3 with 128 channels and instance norm, lr 1 / momentum 0.5 on pixels, "
                "siamese augmentation; evaluation networks trained 3000 steps (≈ DM's 1000 "
                "epochs at 50 images per class), 5 networks per set"
            ),
        ),
        segmentation=SegSettings(
            n_train=10000,
            n_test=2000,
            width=2.0,
            epochs=50,
            rates=(0.1, 0.3, 0.5, 0.7),
            seeds=(0, 1, 2),
            el2n_end=5,
            grid=3,
            description="10 000 training mosaics (3×3, 84×84), U-Net width 2 (32 base channels), "
            "50 epochs, three seeds (GPU)",
        ),
    ),
}

# The paper's regime where a CPU can afford it: ``cpu`` with the paper's 200-epoch surrogate
# and its window grid (K = 10 in steps of 10: 20 windows, 190 ordered pairs), so the published
# windows [0, 10) + [100, 110) apply as published. Tuning jobs train as cpu's coreset models but
# are evaluated once, after their last epoch (the choice reads only the final validation
# accuracy), in batches of 256 (2.3x faster per image than 1024 on a 2-core CPU; the tuning
# rows are new jobs, so nothing is re-keyed).
PROFILES["cpu200"] = replace(
    PROFILES["cpu"],
    name="cpu200",
    surrogate_recipe=Recipe(epochs=200, batch_size=128, eval_every=10),
    grid_step=10,
    tune_recipe=replace(PROFILES["cpu"].recipe, eval_every=20, eval_batch_size=256),
    tuned_arms=("eva", "var_s"),
    baselines=("random",),
    balance_own_tuning=False,
    balance_datasets=("organamnist",),
    balance_arms=("eva_cb_tuned", "random_strat"),
    balance_floor=False,  # within the profile's 12 CPU-hours
    studies=("tuning", "table1", "ablation", "balance"),  # not notebook 04's "dual" or 06's
    full_runs=False,  # no claim it tests reads the full set (no 30 %: claim 5)
    rates=(0.02, 0.05),
    cross_models=(),
    cross_seeds=(),
    pie=None,
    distill=None,
    segmentation=None,
    description=(
        "the cpu profile with the paper's surrogate length and window grid: surrogate 200 "
        "epochs (20 windows of 10, 190 ordered pairs; published windows [0, 10) + [100, 110) "
        "as published), coreset models as in cpu (ConvNet width 0.25, 20 epochs, floor of "
        "500 steps at 2 % and 5 %), tuned on seed 3, reported on seeds 0-2; EVA (tuned and "
        "published), VAR-S (tuned) and Random at 2 % and 5 % only; on OrganAMNIST also "
        "class-balanced EVA, on EVA's chosen pair (its own 190-pair grid is not run), and "
        "stratified Random, at the paper's epochs"
    ),
)


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise EvalibError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]


# ----------------------------------------------------------------------------- stored configs


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
            sel.get("quota", "proportional"),
        ),
        surrogate=None if d.get("surrogate") is None else surrogate_from_dict(d["surrogate"]),
        model=ModelSpec(**d["model"]),
        recipe=_recipe(d["recipe"]),
        seed=int(d["seed"]),
        budget=d.get("budget", "epochs"),
        min_steps=int(d.get("min_steps", 0)),
        weights=d.get("weights"),
    )
