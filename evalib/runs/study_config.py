"""Settings of the studies beside the coreset benchmark: PIE (notebook 07), dataset
distillation (08) and DAD segmentation (09). Each :class:`~evalib.runs.config.Profile` holds one
of each (``profile.pie``, ``profile.distill``, ``profile.segmentation``), so a profile sets
the scale of every notebook in one place.

Pure data: the studies' code lives in :mod:`evalib.studies.pie`, :mod:`evalib.studies.distill` and
:mod:`evalib.studies.segmentation`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Sparsities of the pruned networks (fraction of weights removed).
DEFAULT_SPARSITIES: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
#: Datasets of the distillation study.
DISTILL_DATASETS: tuple[str, ...] = ("organamnist", "bloodmnist", "breastmnist", "retinamnist")


@dataclass(frozen=True)
class PIESettings:
    """Sizes of the PIE notebook at one profile.

    dense_models: K dense models (seeds 0..K-1) and, from each, one pruned model per
    sparsity. fine_tune_steps: optimiser steps after pruning (0 = one-shot only), at
    ``fine_tune_lr``. lams: emphasis strengths λ of the per-sample loss weights
    1 + λ·HTL. coreset_rates: rates of the HTL / Random / EVA coreset comparison (None =
    the profile's rates).

    Emphasis by oversampling (1 + ⌊λ·HTL + ½⌋ copies of each sample, see
    :func:`evalib.studies.pie.oversample`) is not run: a :class:`~evalib.runs.config.Job` trains on a
    set of samples, without repeats, so it cannot be declared as one; the loss weights
    1 + λ·HTL give the same expected emphasis per epoch (without the extra steps) and
    are what every profile runs.
    """

    dense_models: int
    sparsities: tuple[float, ...] = DEFAULT_SPARSITIES
    fine_tune_steps: int = 0
    fine_tune_lr: float = 0.01
    lams: tuple[float, ...] = (2.0,)
    coreset_rates: tuple[float, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class DistillSettings:
    """Sizes of the distillation notebook at one profile.

    ipcs: images per class compared. iterations: DM optimisation steps; batch_real: real
    images per class per iteration; width: ConvNet width multiplier (1.0 = 128 channels)
    of both the distillation and the evaluation networks; lr_img / momentum: SGD on the
    synthetic pixels; dsa: siamese augmentation during DM. eval_steps: SGD steps of
    each evaluation network (batch ``eval_batch``); eval_models: evaluation networks
    (seeds) per image set; full_steps: steps of the full-training-set reference (0 =
    skip).
    """

    ipcs: tuple[int, ...]
    iterations: int
    batch_real: int
    width: float
    eval_steps: int
    eval_models: int
    full_steps: int
    lr_img: float = 1.0
    momentum: float = 0.5
    dsa: bool = True
    eval_batch: int = 256
    eval_lr: float = 0.01
    eval_augment: bool = True
    datasets: tuple[str, ...] = DISTILL_DATASETS
    description: str = ""


@dataclass(frozen=True)
class SegSettings:
    """Sizes of the segmentation notebook at one profile.

    grid: patches per side; n_train / n_test: mosaics built from the OrganAMNIST train /
    test split; width: U-Net width (base channels max(4, round(16·width))); epochs,
    batch_size, lr: Adam training of every network (the scoring run and each retrain,
    same epochs for every subset size); dad_window: [a, b) epochs of DAD (None = all);
    el2n_end: EL2N averages epochs [0, el2n_end); rates: kept fractions; seeds: retrain
    seeds (the scoring run uses seed 0).
    """

    n_train: int
    n_test: int
    width: float
    epochs: int
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    el2n_end: int = 2
    dad_window: tuple[int, int] | None = None
    grid: int = 2
    batch_size: int = 32
    lr: float = 3e-3
    description: str = ""
